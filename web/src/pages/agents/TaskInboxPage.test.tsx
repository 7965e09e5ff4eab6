import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it } from "vitest";
import { startSession } from "../../session/store";
import { admin } from "../../test/fixtures";
import { fakeKindred } from "../../test/fakeKindred";
import { renderApp } from "../../test/server";
import { inbox, task } from "./agentsFake";

describe("the task inbox", () => {
  beforeEach(() => startSession("tok", 3600, admin));

  it("shows each open task with its context and SLA countdown; an overdue one in words", async () => {
    const late = task({ id: "task-2", title: "Late one", due_at: new Date(Date.now() - 5 * 60_000 - 9_000).toISOString() });
    const fake = inbox([task(), late]);
    renderApp("/tasks", fakeKindred({ override: fake.handler }).api);
    const card = await screen.findByRole("article", { name: "Approve the order of Acme Hospital" });
    expect(within(card).getByText(/^2 h (29|30) min left$/)).toBeTruthy();
    expect(within(card).getByText("discount")).toBeTruthy();
    expect(within(card).getByRole("link", { name: "Open the run" }).getAttribute("href")).toBe("/agent-runs/run-1");
    const overdue = within(screen.getByRole("article", { name: "Late one" })).getByText(/^Overdue by 5 min \d\d s$/);
    expect(overdue.closest(".agents-sla-overdue")).toBeTruthy();
    expect(document.title).toBe("Tasks — Kindred");
  });

  it("approves a task: it leaves the inbox and the run's new status is shown", async () => {
    const fake = inbox([task()]);
    renderApp("/tasks", fakeKindred({ override: fake.handler }).api);
    const user = userEvent.setup();
    const card = await screen.findByRole("article", { name: "Approve the order of Acme Hospital" });
    await user.type(within(card).getByLabelText("Comment (optional)"), "fine");
    await user.click(within(card).getByRole("button", { name: "Approve" }));
    const decided = await screen.findByRole("region", { name: "Decided just now" });
    expect(decided.textContent).toContain("Approve the order of Acme Hospital: Approved.");
    expect(within(decided).getByText("succeeded")).toBeTruthy();
    await waitFor(() => expect(screen.queryByRole("article")).toBeNull());
    expect(await screen.findByText("No open tasks for you.")).toBeTruthy();
    expect(fake.decisions).toEqual([{ id: "task-1", body: { outcome: "approved", comment: "fine" } }]);
  });

  it("modifies the proposed values; a refused value is said at its field and kept", async () => {
    const fake = inbox([task()]);
    renderApp("/tasks", fakeKindred({ override: fake.handler }).api);
    const user = userEvent.setup();
    const card = await screen.findByRole("article", { name: "Approve the order of Acme Hospital" });
    await user.click(within(card).getByRole("button", { name: "Modify…" }));
    const discount = within(card).getByLabelText("discount");
    expect(within(card).getByLabelText<HTMLInputElement>("discount").value).toBe("8");
    await user.clear(discount);
    await user.type(discount, "lots");
    await user.click(within(card).getByRole("button", { name: "Send modified values" }));
    const said = await within(card).findAllByText("discount must be a number");
    expect(said.some((element) => element.classList.contains("field-error"))).toBe(true);
    expect(within(card).getByLabelText<HTMLInputElement>("discount").value).toBe("lots");
    expect(fake.decisions).toEqual([]);
    await user.clear(discount);
    await user.type(discount, "6");
    await user.click(within(card).getByRole("button", { name: "Send modified values" }));
    await screen.findByRole("region", { name: "Decided just now" });
    expect(fake.decisions[0]?.body).toEqual({ outcome: "modified", values: { discount: 6 }, comment: null });
  });
});
