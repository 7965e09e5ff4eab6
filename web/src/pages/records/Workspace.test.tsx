import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it } from "vitest";
import type { ObjectDefinition, RecordData } from "../../api/types";
import { setPurpose } from "../../api/workspace";
import { startSession } from "../../session/store";
import { fakeKindred } from "../../test/fakeKindred";
import { account, accountRecord, admin, contact, field } from "../../test/fixtures";
import { json, problem, renderApp, type Call } from "../../test/server";

const opportunity: ObjectDefinition = {
  ...account,
  name: "opportunity",
  label: "Opportunity",
  label_plural: "Opportunities",
  label_zh: "商机",
  title_field: "name",
  fields: [
    field({ name: "name", type: "text", label: "Name" }),
    field({
      name: "stage",
      type: "enum",
      label: "Stage",
      options: [
        { value: "prospecting", label: "Prospecting", label_zh: "初步接触" },
        { value: "proposal", label: "Proposal", label_zh: "方案" },
      ],
    }),
    field({ name: "account", type: "relation", label: "Account", target: "account" }),
  ],
};

const me = {
  ...admin,
  permissions: {
    ...admin.permissions,
    opportunity: {
      actions: ["create", "delete", "read", "update"] as ("create" | "delete" | "read" | "update")[],
      scope: "all" as const,
      hidden_fields: [],
      read_fields: "*" as const,
      write_fields: "*" as const,
    },
  },
};

function deal(overrides: Partial<RecordData> = {}): RecordData {
  return {
    ...accountRecord(),
    id: "018bcfe5-0000-7000-8000-00000000d001",
    object: "opportunity",
    version: 4,
    name: "CT scanner for Ruijin",
    stage: "prospecting",
    account: null,
    meta: { withheld: [] },
    ...overrides,
  };
}

/** The workspace's own routes on top of the shared fake. */
function workspaceFake(extra?: (call: Call) => Response | undefined) {
  const views: Record<string, unknown>[] = [];
  const fake = fakeKindred({
    me,
    records: [accountRecord(), deal()],
    override: (call) => {
      const answered = extra?.(call);
      if (answered) return answered;
      if (call.method === "GET" && call.path === "/api/v1/metadata/objects") {
        return json({ data: [account, contact, opportunity] });
      }
      if (call.path === "/api/v1/views" && call.method === "GET") return json({ data: views });
      if (call.path === "/api/v1/views" && call.method === "POST") {
        const body = JSON.parse(call.body) as Record<string, unknown>;
        const view = {
          id: `v${views.length + 1}`,
          owner_id: me.id,
          mine: true,
          version: 1,
          created_at: "2026-12-01T00:00:00Z",
          updated_at: "2026-12-01T00:00:00Z",
          sort: null,
          columns: [],
          filters: [],
          shared_role: null,
          ...body,
        };
        views.push(view);
        return json(view, { status: 201 });
      }
      if (call.path === "/api/v1/purposes") {
        return json({ data: [{ name: "marketing", description: "campaigns", outbound: false }] });
      }
      if (call.path.endsWith("/timeline")) return json({ data: [], omitted: [] });
      return undefined;
    },
  });
  return { ...fake, views };
}

describe("records workspace", () => {
  beforeEach(() => {
    startSession("tok", 3600, me);
    setPurpose(null);
  });

  it("moves a card with the Move to menu: PATCH with If-Match, then the new column", async () => {
    const fake = workspaceFake();
    renderApp("/board/opportunity", fake.api);
    const user = userEvent.setup();
    expect(await screen.findByRole("heading", { level: 1, name: "Opportunities by Stage" })).toBeTruthy();
    await user.selectOptions(
      await screen.findByLabelText("Move CT scanner for Ruijin to"),
      "proposal",
    );
    await screen.findByText("CT scanner for Ruijin moved to Proposal.");
    const patch = fake.calls.find((c) => c.method === "PATCH");
    expect(patch?.headers.get("If-Match")).toBe('"v4"');
    expect(JSON.parse(patch?.body ?? "{}")).toEqual({ stage: "proposal" });
    const column = screen.getByRole("region", { name: "Proposal: 1" });
    expect(within(column).getByRole("link", { name: "CT scanner for Ruijin" })).toBeTruthy();
  });

  it("shows the merge dialog on a 412 and rolls the card back, never overwriting", async () => {
    const fake = workspaceFake((call) =>
      call.method === "PATCH"
        ? problem(412, { title: "Precondition failed", current_version: 5 })
        : undefined,
    );
    renderApp("/board/opportunity", fake.api);
    const user = userEvent.setup();
    await user.selectOptions(await screen.findByLabelText("Move CT scanner for Ruijin to"), "proposal");
    const dialog = await screen.findByRole("alertdialog");
    expect(dialog.textContent).toContain("Someone saved this record first");
    expect(screen.getByRole("region", { name: "Prospecting: 1", hidden: true })).toBeTruthy();
    await user.click(within(dialog).getByRole("button", { name: "Load their version" }));
    await screen.findByText(/Their version 4 is loaded/);
    expect(fake.calls.filter((c) => c.method === "PATCH")).toHaveLength(1);
  });

  it("saves the current filters as a view and applies a picked one", async () => {
    const fake = workspaceFake();
    renderApp("/records/account", fake.api);
    const user = userEvent.setup();
    await screen.findByRole("table");
    await user.selectOptions(screen.getByLabelText("Add filter"), "tier");
    await user.selectOptions(screen.getByLabelText("Value for Tier"), "a");
    await waitFor(() =>
      expect(
        fake.calls.some((c) => c.path === "/api/v1/objects/account/records" && c.query.get("filter[tier][eq]") === "a"),
      ).toBe(true),
    );
    await user.click(screen.getByRole("button", { name: "Save as view" }));
    await user.type(screen.getByLabelText("View name"), "Key accounts");
    await user.click(screen.getByRole("button", { name: "Save view" }));
    await screen.findByText("View “Key accounts” saved.");
    const posted = JSON.parse(fake.calls.find((c) => c.method === "POST")?.body ?? "{}") as Record<string, unknown>;
    expect(posted).toMatchObject({
      object: "account",
      name: "Key accounts",
      filters: [{ field: "tier", operator: "eq", value: "a" }],
      shared_role: null,
    });
    await user.click(screen.getByRole("button", { name: "Remove filter on Tier" }));
    expect(screen.queryByLabelText("Value for Tier")).toBeNull();
    await user.selectOptions(screen.getByLabelText("Saved view"), "v1");
    expect(await screen.findByLabelText("Value for Tier")).toHaveProperty("value", "a");
  });

  it("renders search snippets with <mark> and never as HTML", async () => {
    const hit = {
      source: "records",
      id: accountRecord().id,
      object: "account",
      title: "<img src=x onerror=alert(1)>",
      score: 1,
      snippet: { field: "name", text: "Shanghai <b>hospital</b>", highlights: [[12, 20]] },
      matched_fields: ["name"],
      matched_by: ["fulltext"],
    };
    const fake = workspaceFake((call) =>
      call.path === "/api/v1/search"
        ? json({ query: "hospital", mode: "fulltext", sources: ["records"], data: [hit] })
        : undefined,
    );
    renderApp("/search?q=hospital", fake.api);
    const link = await screen.findByRole("link", { name: "<img src=x onerror=alert(1)>" });
    expect(link.querySelector("img")).toBeNull();
    const mark = document.querySelector(".search-hit mark");
    expect(mark?.textContent).toBe("hospital");
    expect(document.querySelector(".snippet")?.textContent).toContain("Shanghai <b>hospital</b>");
    expect(document.querySelector(".search-hit b")).toBeNull();
    expect(screen.getByRole("heading", { level: 2, name: "Accounts (1)" })).toBeTruthy();
  });

  it("creates a record with a relation chosen by title, and shows a 422 at its field", async () => {
    let attempts = 0;
    const fake = workspaceFake((call) => {
      if (call.method === "POST" && call.path === "/api/v1/objects/opportunity/records") {
        attempts += 1;
        if (attempts === 1) {
          return problem(422, {
            title: "Validation failed",
            errors: [{ path: "/name", code: "rule", message: "Name must mention the product" }],
          });
        }
        return json(deal({ id: "018bcfe5-0000-7000-8000-00000000d002", version: 1 }), {
          status: 201,
          headers: { ETag: '"v1"' },
        });
      }
      return undefined;
    });
    const { router } = renderApp("/records/opportunity/new", fake.api);
    const user = userEvent.setup();
    await screen.findByRole("heading", { level: 1, name: "New Opportunity" });
    await user.type(screen.getByLabelText("Name"), "Big deal");
    await user.type(screen.getByRole("combobox", { name: "Account" }), "Acme");
    await user.click(await screen.findByRole("option", { name: "Acme Hospital" }));
    expect(screen.getByText("Selected: Acme Hospital")).toBeTruthy();
    await user.click(screen.getByRole("button", { name: "Create" }));
    expect(await screen.findByText("Name must mention the product")).toBeTruthy();
    expect(screen.getByLabelText("Name")).toHaveProperty("value", "Big deal"); // nothing lost
    await user.click(screen.getByRole("button", { name: "Create" }));
    await waitFor(() =>
      expect(router.state.location.pathname).toBe("/records/opportunity/018bcfe5-0000-7000-8000-00000000d002"),
    );
    const body = JSON.parse(fake.calls.filter((c) => c.method === "POST").at(-1)?.body ?? "{}") as Record<string, unknown>;
    expect(body).toEqual({ name: "Big deal", account: accountRecord().id });
  });

  it("sends the declared purpose with every request once chosen", async () => {
    const record = accountRecord({
      meta: {
        withheld: [
          { field: "email", reason: "no-purpose", detail: "declare a purpose", request_consent: "" },
        ],
      },
    });
    const fake = workspaceFake((call) =>
      call.method === "GET" && call.path === `/api/v1/objects/account/records/${record.id}`
        ? json(record, { headers: { ETag: '"v3"' } })
        : undefined,
    );
    renderApp(`/records/account/${record.id}`, fake.api);
    const user = userEvent.setup();
    const picker = await screen.findByLabelText("Purpose of access");
    await waitFor(() => expect(within(picker).getAllByRole("option")).toHaveLength(2));
    await user.selectOptions(picker, "marketing");
    await waitFor(() =>
      expect(
        fake.calls.some(
          (c) => c.path === `/api/v1/objects/account/records/${record.id}` && c.headers.get("X-Purpose") === "marketing",
        ),
      ).toBe(true),
    );
    expect(fake.calls[0]?.headers.get("X-Purpose")).toBeNull();
  });
});
