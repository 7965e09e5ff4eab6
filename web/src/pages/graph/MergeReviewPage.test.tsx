import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import axe from "axe-core";
import i18next from "i18next";
import { beforeEach, describe, expect, it } from "vitest";
import type { Me } from "../../api/types";
import { DUP_A, DUP_B, OBJECTS, duplicatePair } from "../../graph/testData";
import { startSession } from "../../session/store";
import { admin, analyst } from "../../test/fixtures";
import { fakeKindred } from "../../test/fakeKindred";
import { json, problem, renderApp, type Call } from "../../test/server";

/** axe-core in jsdom (colour contrast needs layout: the browser journeys check it). */
async function axeViolations(): Promise<string[]> {
  const result = await axe.run(document.documentElement, {
    rules: { "color-contrast": { enabled: false } },
    resultTypes: ["violations"],
  });
  return result.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
}

const MERGE_ID = "00000000-0000-7000-8000-00000000aaaa";

const sales: Me = {
  ...analyst,
  roles: ["sales"],
  permissions: {
    contact: { actions: ["create", "read", "update"], scope: "territory", hidden_fields: [], read_fields: "*", write_fields: "*" },
  },
};

/** A fake resolution API: one pair until merged; undo brings it back (once). */
function resolutionServer(me: Me = admin) {
  let merged = false;
  let undone = false;
  const pair = duplicatePair();
  const summary = () => ({
    id: MERGE_ID,
    object: "contact",
    state: merged ? "merged" : "undone",
    survivor: DUP_B,
    duplicate: DUP_A,
    score: 0.9707,
    merged_at: "2026-12-07T21:10:19.051Z",
    merged_by: "u-admin",
    undone_at: merged ? null : "2026-12-07T21:12:00.000Z",
    undone_by: merged ? null : "u-admin",
  });
  const view = () => ({ ...summary(), features: pair.features, edges: [], duplicate_record: null, survivor_changes: [] });
  const fake = fakeKindred({
    me,
    override: (call: Call) => {
      if (call.method === "GET" && call.path === "/api/v1/metadata/objects") return json({ data: OBJECTS });
      if (call.method === "GET" && call.path === "/api/v1/resolution/contact/duplicates") {
        return json({
          object: "contact",
          thresholds: { auto_merge: 0.99, review: 0.6 },
          data: merged ? [] : [pair],
          next_cursor: null,
          truncated: false,
        });
      }
      if (call.method === "GET" && call.path === "/api/v1/resolution/merges") {
        return json({ data: merged || undone ? [summary()] : [] });
      }
      if (call.method === "POST" && call.path === "/api/v1/resolution/merges") {
        merged = true;
        return json(
          { ...view(), skipped_fields: [], survivor_record: pair.records[1] },
          { status: 201 },
        );
      }
      if (call.method === "POST" && call.path === `/api/v1/resolution/merges/${MERGE_ID}/undo`) {
        if (!merged) {
          return problem(409, { title: "Conflict", detail: `merge ${MERGE_ID} was already undone` });
        }
        merged = false;
        undone = true;
        return json({ ...view(), edges_gone: [], restored_record: pair.records[0] });
      }
      return undefined;
    },
  });
  return fake;
}

async function renderReview(me: Me = admin, pairName = "Wang Lihua and 王丽华") {
  startSession("tok", 3600, me);
  const fake = resolutionServer(me);
  renderApp("/resolution", fake.api);
  await screen.findByRole("heading", { level: 3, name: pairName });
  return fake;
}

describe("merge review", { timeout: 30_000 }, () => {
  beforeEach(() => startSession("tok", 3600, admin));

  it("shows a pair's score and explained features beside both records' values", async () => {
    await renderReview();
    expect(document.title).toBe("Merge review — Kindred");
    const pair = screen.getByRole("article", { name: "Wang Lihua and 王丽华" });
    expect(within(pair).getByText("Match score 97.1%")).toBeTruthy();
    expect(within(pair).getByText("Needs review")).toBeTruthy();
    const features = within(pair).getByRole("region", { name: "Why they may be the same" });
    const rows = within(features).getAllByRole("row").slice(1).map((r) => r.textContent);
    expect(rows).toEqual([
      "Name100%Supports a match (+5)The names are the same.",
      "Account100%Supports a match (+3)Same account.",
      "WeChat account0%Contradiction (-4)Different WeChat accounts.",
    ]);
    const values = within(pair).getByRole("region", { name: "Values side by side" });
    const name = within(values).getByRole("row", { name: /Full name/ });
    expect(name.textContent).toContain("Wang Lihua");
    expect(name.textContent).toContain("王丽华");
    expect(name.textContent).toContain("differs");
    expect(within(values).getAllByText("withheld: no purpose declared").length).toBe(2);
    expect(within(values).getByRole("row", { name: /Email/ }).textContent).toContain("not compared");
    expect(await axeViolations()).toEqual([]);
  });

  it("merges after confirmation with the chosen survivor and field, then undoes", async () => {
    const fake = await renderReview();
    const user = userEvent.setup();
    const pair = screen.getByRole("article", { name: "Wang Lihua and 王丽华" });
    await user.click(within(pair).getByRole("radio", { name: "Record B: 王丽华" }));
    const nameChoice = within(pair).getByRole("group", { name: "Value to keep: Full name" });
    await user.click(within(nameChoice).getByRole("radio", { name: "Record A" }));
    await user.click(within(pair).getByRole("button", { name: "Merge Wang Lihua into 王丽华…" }));
    const dialog = screen.getByRole("alertdialog", { name: "Merge these records?" });
    expect(document.activeElement).toBe(within(dialog).getByRole("button", { name: "Cancel" }));
    expect(await axeViolations()).toEqual([]);
    await user.click(within(dialog).getByRole("button", { name: "Merge" }));
    expect(await screen.findByText("Merged: Wang Lihua into 王丽华.")).toBeTruthy();
    const posted = fake.calls.find((c) => c.method === "POST" && c.path === "/api/v1/resolution/merges");
    expect(JSON.parse(posted?.body ?? "{}")).toEqual({
      object: "contact",
      survivor: DUP_B,
      duplicate: DUP_A,
      take_from_duplicate: ["full_name"],
      survivor_version: 1,
      duplicate_version: 1,
    });
    expect(await screen.findByText("No likely duplicates to review.")).toBeTruthy();
    const history = screen.getByRole("region", { name: "Merge history" });
    expect(await within(history).findByText("Merged")).toBeTruthy();

    await user.click(screen.getByRole("button", { name: "Undo" }));
    expect(await screen.findByText("Undone: Wang Lihua is back.")).toBeTruthy();
    expect(await screen.findByRole("heading", { level: 3, name: "Wang Lihua and 王丽华" })).toBeTruthy();
    expect(await within(history).findByText("Undone")).toBeTruthy();
  });

  it("cancelling the confirmation merges nothing", async () => {
    const fake = await renderReview();
    const user = userEvent.setup();
    await user.click(screen.getByRole("button", { name: "Merge 王丽华 into Wang Lihua…" }));
    await user.keyboard("{Escape}");
    expect(screen.queryByRole("alertdialog")).toBeNull();
    expect(fake.calls.some((c) => c.method === "POST")).toBe(false);
  });

  it("shows a refused undo (409) in place", async () => {
    const fake = await renderReview();
    const user = userEvent.setup();
    await user.click(screen.getByRole("button", { name: "Merge 王丽华 into Wang Lihua…" }));
    await user.click(within(screen.getByRole("alertdialog")).getByRole("button", { name: "Merge" }));
    const history = screen.getByRole("region", { name: "Merge history" });
    const undo = await within(history).findByRole("button", { name: "Undo merge of Wang Lihua" });
    // Someone else undid it meanwhile: the server says so with a 409.
    await fake.api.client.POST("/api/v1/resolution/merges/{merge_id}/undo", {
      params: { path: { merge_id: MERGE_ID } },
    });
    await user.click(undo);
    const alert = await within(history).findByRole("alert");
    expect(alert.textContent).toContain("was already undone");
  });

  it("offers no merge to a user who may not merge (sales: no delete)", async () => {
    await renderReview(sales);
    expect(screen.getByText(/you may review pairs but not merge them/i)).toBeTruthy();
    expect(screen.queryByRole("button", { name: /^Merge/ })).toBeNull();
    expect(screen.queryByRole("radio")).toBeNull();
  });

  it("speaks Chinese, explanations included", async () => {
    await i18next.changeLanguage("zh-CN");
    await renderReview(admin, "Wang Lihua 与 王丽华");
    const pair = screen.getByRole("article", { name: "Wang Lihua 与 王丽华" });
    expect(within(pair).getByRole("radio", { name: "记录 B：王丽华" })).toBeTruthy();
    expect(within(pair).getByText("名称：相同。")).toBeTruthy();
    expect(within(pair).getByText("微信账号：取值相互矛盾。")).toBeTruthy();
    await waitFor(() => expect(document.title).toBe("合并审核 — Kindred"));
  });
});
