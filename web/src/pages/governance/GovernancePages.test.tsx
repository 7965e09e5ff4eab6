/**
 * The governance pages against a fake Kindred (the real client, the real router): who may
 * open what, the KPIs, the ledger's download-and-verify with the real server bundle
 * (governance/testdata/bundle.json) and a tampered file, the role editor's refusals shown in
 * place with the draft kept, user creation and API keys. axe-core on every page.
 */
import { fireEvent, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import axe from "axe-core";
import { beforeEach, describe, expect, it } from "vitest";
import type { Me } from "../../api/types";
import realBundle from "../../governance/testdata/bundle.json";
import { startSession } from "../../session/store";
import { fakeKindred } from "../../test/fakeKindred";
import { admin } from "../../test/fixtures";
import { json, problem, renderApp, type Call } from "../../test/server";

const compliance: Me = { ...admin, id: "u-compliance", name: "Compliance", roles: ["compliance"], manage_metadata: false, manage_users: false };
const sales: Me = { ...admin, id: "u-sales", name: "Rep", roles: ["sales"], manage_metadata: false, manage_users: false };

async function serious(): Promise<string[]> {
  const result = await axe.run(document.documentElement, {
    rules: { "color-contrast": { enabled: false } },
    resultTypes: ["violations"],
  });
  return result.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
}

const kpis = {
  values: 200,
  tag_accuracy: 0.985,
  verified_share: 0.25,
  disputed: 3,
  expired: 7,
  authorization_validity_compliance: 1,
  authorized_accesses: 41,
  consent_rate: 0.4,
  customers: 30,
};

const leaf = JSON.parse(atob(realBundle.leaf)) as { at: string; c: string; s: string[] };
const entry = {
  index: realBundle.index,
  at: leaf.at,
  kind: "console.fixture",
  subjects: leaf.s,
  leaf_hash: "bGVhZg==",
};

const salesRole = {
  name: "sales",
  description: "Sales reps",
  builtin: true,
  permissions: {
    manage_metadata: false,
    manage_users: false,
    objects: {
      account: { actions: ["read", "create", "update"], scope: "territory", read_fields: "*", write_fields: "*", hidden_fields: [] },
    },
  },
};

interface Fake {
  calls: Call[];
}

function governance(me: Me, extra: (call: Call) => Response | undefined = () => undefined) {
  const keys: { id: string; name: string; user_id: string; prefix: string; created_at: string; revoked_at: string | null }[] = [];
  const fake: Fake & ReturnType<typeof fakeKindred> = fakeKindred({
    me,
    override: (call) => {
      const answer = extra(call);
      if (answer) return answer;
      const { method, path } = call;
      if (method === "GET" && path === "/api/v1/sovereignty/kpis") return json(kpis);
      if (method === "GET" && path === "/api/v1/ledger/entries") {
        return json({ data: [entry], size: realBundle.tree_size, next_after: null });
      }
      if (method === "GET" && path === `/api/v1/ledger/entries/${realBundle.index}`) {
        return json({ ...entry, leaf: realBundle.leaf, commitment: leaf.c, payload: { n: 2 }, payload_erased: false, withheld: [] });
      }
      if (method === "GET" && path === `/api/v1/ledger/entries/${realBundle.index}/bundle`) return json(realBundle);
      if (method === "GET" && path === "/api/v1/ledger/checkpoints") return json({ data: [] });
      if (method === "GET" && path === "/api/v1/ledger/public-key") {
        return json({ active: realBundle.verifier_key, keys: [realBundle.verifier_key] });
      }
      if (method === "GET" && path === "/api/v1/roles") return json({ data: [salesRole] });
      if (method === "GET" && path === "/api/v1/users") return json({ data: [], next_cursor: null });
      if (method === "GET" && path === "/api/v1/auth/api-keys") return json({ data: keys });
      if (method === "POST" && path === "/api/v1/auth/api-keys") {
        const body = JSON.parse(call.body) as { name: string };
        keys.push({ id: "k1", name: body.name, user_id: me.id, prefix: "abcdefgh", created_at: "2026-01-01T00:00:00Z", revoked_at: null });
        return json({ id: "k1", name: body.name, user_id: me.id, prefix: "abcdefgh", key: "kdr_abcdefgh_secret" }, { status: 201 });
      }
      if (method === "DELETE" && path === "/api/v1/auth/api-keys/k1") {
        for (const key of keys) key.revoked_at = "2026-01-02T00:00:00Z";
        return new Response(null, { status: 204 });
      }
      return undefined;
    },
  });
  return fake;
}

describe("governance pages", () => {
  beforeEach(() => startSession("tok", 3600, admin));

  it("tells a sales rep they are not allowed, and asks the server nothing", async () => {
    startSession("tok", 3600, sales);
    const fake = governance(sales);
    renderApp("/governance/ledger", fake.api);
    expect((await screen.findByRole("alert")).textContent).toContain("You are not allowed to open this governance view.");
    expect(screen.getByRole("heading", { level: 1 }).textContent).toBe("Governance");
    await waitFor(() => expect(document.title).toBe("Governance — Kindred"));
    expect(within(screen.getByRole("navigation", { name: "Main" })).queryByRole("link", { name: "Governance" })).toBeNull();
    expect(fake.calls.filter((c) => c.path.startsWith("/api/v1/ledger"))).toEqual([]);
    expect(await serious()).toEqual([]);
  });

  it("shows each KPI with its explanation and the breakdowns as tables", async () => {
    startSession("tok", 3600, compliance);
    renderApp("/governance", governance(compliance).api);
    const accuracy = (await screen.findByRole("heading", { name: "Tag accuracy" })).closest("li");
    expect(accuracy?.textContent).toContain("98.5 %");
    expect(accuracy?.textContent).toContain("Share of the 200 values");
    const consent = screen.getByRole("table", { name: "Customers by consent" });
    expect(within(consent).getByRole("row", { name: "With an active consent 12" })).toBeTruthy();
    expect(screen.getByRole("figure", { name: "Provenance tags of held values" })).toBeTruthy();
    expect(document.title).toBe("Consent & sovereignty — Kindred");
    // A compliance officer manages no users: roles are read-only, users show only own keys.
    expect(screen.getByRole("link", { name: "Users & API keys" })).toBeTruthy();
    expect(await serious()).toEqual([]);
  });

  it("downloads an entry's proof bundle and verifies it; a tampered file fails at the named check", async () => {
    startSession("tok", 3600, compliance);
    const fake = governance(compliance);
    renderApp("/governance/ledger", fake.api);
    const user = userEvent.setup();
    await user.click(await screen.findByRole("button", { name: `Entry ${realBundle.index}` }));
    const detail = await screen.findByRole("region", { name: `Entry ${realBundle.index}` });
    await user.click(within(detail).getByRole("button", { name: "Download proof bundle" }));
    const verified = await within(detail).findByRole("status", { name: `Verification of entry ${realBundle.index}` });
    expect(verified.textContent).toContain("Verified");
    expect(verified.textContent).toContain("Inclusion proof leads to the signed root: passed");
    expect(await serious()).toEqual([]);

    const lines = realBundle.checkpoint.split("\n");
    lines[1] = String(realBundle.tree_size + 1); // the signed size changed
    const tampered = { ...realBundle, checkpoint: lines.join("\n") };
    const checker = screen.getByRole("region", { name: "Verify a bundle file" });
    const file = new File([JSON.stringify(tampered)], "tampered.json", { type: "application/json" });
    await user.upload(within(checker).getByLabelText("Bundle file (JSON)"), file);
    await user.click(within(checker).getByRole("button", { name: "Verify" }));
    const outcome = await within(checker).findByRole("status", { name: "Verification of tampered.json" });
    expect(outcome.textContent).toContain("Not verified");
    expect(outcome.textContent).toContain("Failed check: Checkpoint signature. The checkpoint's signature does not verify");
    expect(outcome.textContent).toContain("Inclusion proof leads to the signed root: not checked");

    await user.upload(within(checker).getByLabelText("Bundle file (JSON)"), new File(["{not json"], "broken.json"));
    await user.click(within(checker).getByRole("button", { name: "Verify" }));
    expect((await within(checker).findByRole("status", { name: "Verification of broken.json" })).textContent).toContain(
      "The file is not JSON",
    );
    // Nothing was sent to verify a file.
    expect(fake.calls.filter((c) => c.method !== "GET")).toEqual([]);
  });

  it("shows the server's escalation refusal at the grant it concerns and keeps the draft", async () => {
    const fake = governance(admin, (call) =>
      call.method === "PUT" && call.path === "/api/v1/roles/sales"
        ? problem(403, {
            title: "Permission denied",
            detail: "this role would grant rights you do not have (account: delete)",
            errors: [{ path: "/permissions/objects/account", code: "exceeds_your_rights", message: "you may not grant account: delete" }],
          })
        : undefined,
    );
    renderApp("/governance/roles?role=sales", fake.api);
    const user = userEvent.setup();
    const grant = await screen.findByRole("group", { name: "Grant on Account" });
    await user.click(within(grant).getByRole("checkbox", { name: "Delete" }));
    const description = screen.getByLabelText("Description");
    await user.clear(description);
    await user.type(description, "Sales reps who may delete");
    await user.click(screen.getByRole("button", { name: "Save role" }));
    expect((await screen.findByRole("alert")).textContent).toContain("this role would grant rights you do not have");
    await waitFor(() => expect(grant.textContent).toContain("you may not grant account: delete"));
    expect(grant.getAttribute("aria-invalid")).toBe("true");
    expect(screen.getByLabelText<HTMLInputElement>("Description").value).toBe("Sales reps who may delete");
    expect(within(grant).getByRole<HTMLInputElement>("checkbox", { name: "Delete" }).checked).toBe(true);
    const sent = JSON.parse(fake.calls.find((c) => c.method === "PUT")?.body ?? "{}") as {
      permissions: { objects: { account: { actions: string[] } } };
    };
    expect(sent.permissions.objects.account.actions).toEqual(["read", "create", "update", "delete"]);
    expect(await serious()).toEqual([]);
  });

  it("creates a service principal without a password, and an API key shown once, revoked after confirming", async () => {
    const fake = governance(admin, (call) =>
      call.method === "POST" && call.path === "/api/v1/users"
        ? json({ id: "u-bot", object: "user", version: 1, name: "ERP bridge", email: "erp@x.test", roles: ["integration"] }, { status: 201 })
        : undefined,
    );
    renderApp("/governance/users", fake.api);
    const user = userEvent.setup();
    const create = await screen.findByRole("region", { name: "Create a user" });
    await user.click(within(create).getByRole("radio", { name: /Service principal/ }));
    expect(within(create).queryByLabelText("Temporary password")).toBeNull();
    await user.type(within(create).getByLabelText("Email"), "erp@x.test");
    await user.type(within(create).getByLabelText("Name"), "ERP bridge");
    await user.click(await within(create).findByRole("checkbox", { name: "sales" }));
    await user.click(within(create).getByRole("button", { name: "Create user" }));
    expect((await within(create).findByRole("status")).textContent).toBe("User ERP bridge created.");
    const body = JSON.parse(fake.calls.find((c) => c.method === "POST" && c.path === "/api/v1/users")?.body ?? "{}") as Record<string, unknown>;
    expect(body).toEqual({ email: "erp@x.test", name: "ERP bridge", kind: "service", roles: [] });

    const own = screen.getByRole("region", { name: "Your API keys" });
    await user.type(within(own).getByLabelText("Name of the new key"), "CI");
    await user.click(within(own).getByRole("button", { name: "Create API key" }));
    const secret = await within(own).findByLabelText("Secret key");
    expect((secret as HTMLInputElement).value).toBe("kdr_abcdefgh_secret");
    expect(own.textContent).toContain("it is shown only this once");
    expect(await serious()).toEqual([]);
    await user.click(within(own).getByRole("button", { name: "I have copied it" }));
    expect(within(own).queryByLabelText("Secret key")).toBeNull();

    fireEvent.click(await within(own).findByRole("button", { name: "Revoke CI" }));
    expect(fake.calls.some((c) => c.method === "DELETE")).toBe(false); // not before confirming
    await user.click(within(own).getByRole("button", { name: "Yes, revoke" }));
    expect((await within(own).findByText("Key CI revoked.")).getAttribute("role")).toBe("status");
    expect(fake.calls.filter((c) => c.method === "DELETE").map((c) => c.path)).toEqual(["/api/v1/auth/api-keys/k1"]);
  });
});
