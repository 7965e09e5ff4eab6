import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it } from "vitest";
import { startSession } from "../../session/store";
import { accountRecord, admin, analyst } from "../../test/fixtures";
import { fakeKindred } from "../../test/fakeKindred";
import { renderApp } from "../../test/server";

const record = accountRecord();
const path = `/records/account/${record.id}`;
const patches = (calls: { method: string; headers: Headers; body: string }[]) =>
  calls.filter((c) => c.method === "PATCH");

async function openEditor() {
  const user = userEvent.setup();
  await user.click(await screen.findByRole("button", { name: "Edit" }));
  return user;
}

describe("record detail", () => {
  beforeEach(() => startSession("tok", 3600, admin));

  it("shows every readable field with its label, withheld ones with their reason", async () => {
    renderApp(path, fakeKindred().api);
    expect(await screen.findByRole("heading", { level: 1, name: "Account Acme Hospital" })).toBeTruthy();
    expect(document.title).toBe("Account Acme Hospital — Kindred");
    const details = screen.getByRole("region", { name: "Details" });
    const terms = within(details).getAllByRole("term").map((t) => t.textContent);
    expect(terms).toEqual([
      "Name",
      "Tier",
      "Employees",
      "Active",
      "Founded",
      "Email address",
      "Phone",
      "Parent",
      "Notes",
    ]);
    const email = within(details).getByText("withheld: no consent");
    expect(email.closest("[title]")?.getAttribute("title")).toContain("has not consented");
    expect(screen.getByText("Version 3")).toBeTruthy();
  });

  it("offers no Edit button without update permission", async () => {
    startSession("tok", 3600, analyst);
    renderApp(path, fakeKindred({ me: analyst }).api);
    await screen.findByRole("heading", { level: 1 });
    expect(screen.queryByRole("button", { name: "Edit" })).toBeNull();
  });

  it("edits with labelled inputs by type and saves with If-Match", async () => {
    const fake = fakeKindred();
    renderApp(path, fake.api);
    const user = await openEditor();
    expect(screen.getByLabelText("Name")).toHaveProperty("type", "text");
    expect(screen.getByLabelText("Employees")).toHaveProperty("type", "number");
    expect(screen.getByLabelText("Active")).toHaveProperty("type", "checkbox");
    expect(screen.getByLabelText("Founded")).toHaveProperty("type", "date");
    expect(screen.getByLabelText("Tier").tagName).toBe("SELECT");
    expect(screen.getByLabelText("Notes").tagName).toBe("TEXTAREA");
    expect(screen.queryByLabelText("Email address")).toBeNull(); // withheld: not editable
    await user.clear(screen.getByLabelText("Employees"));
    await user.type(screen.getByLabelText("Employees"), "130");
    await user.click(screen.getByRole("button", { name: "Save" }));
    expect(
      (await screen.findByText("Saved. The record is now at version 4.")).getAttribute("role"),
    ).toBe("status");
    const [patch] = patches(fake.calls);
    expect(patch?.headers.get("If-Match")).toBe('"v3"');
    expect(JSON.parse(patch?.body ?? "")).toEqual({ employees: 130 });
    expect(screen.getByText("Version 4")).toBeTruthy();
  });

  it("shows a 422's message next to the field its pointer names", async () => {
    renderApp(path, fakeKindred().api);
    const user = await openEditor();
    await user.clear(screen.getByLabelText("Name"));
    await user.click(screen.getByRole("button", { name: "Save" }));
    const name = screen.getByLabelText("Name");
    await waitFor(() => expect(name.getAttribute("aria-invalid")).toBe("true"));
    const describedBy = name.getAttribute("aria-describedby") ?? "";
    expect(document.getElementById(describedBy)?.textContent).toBe("Name is required");
    expect(document.activeElement).toBe(name);
  });

  it("says nothing needs saving when nothing changed", async () => {
    const fake = fakeKindred();
    renderApp(path, fake.api);
    const user = await openEditor();
    await user.click(screen.getByRole("button", { name: "Save" }));
    expect(screen.getByText("Nothing to save: no field was changed.")).toBeTruthy();
    expect(patches(fake.calls)).toEqual([]);
  });

  it("on a 412 offers their version and keeps everything typed", async () => {
    const fake = fakeKindred();
    renderApp(path, fake.api);
    const user = await openEditor();
    // Someone else saves version 4 meanwhile.
    fake.store.set(record.id, { ...record, version: 4, name: "Acme General", employees: 200 });
    await user.clear(screen.getByLabelText("Name"));
    await user.type(screen.getByLabelText("Name"), "Acme East");
    await user.type(screen.getByLabelText("Notes"), "call back Monday");
    await user.click(screen.getByRole("button", { name: "Save" }));

    const dialog = await screen.findByRole("alertdialog", { name: "Someone saved this record first" });
    expect(within(dialog).getByText(/version 4/)).toBeTruthy();
    // What was typed stays visible behind the dialog.
    expect(screen.getByDisplayValue("Acme East")).toBeTruthy();
    expect(document.activeElement).toBe(within(dialog).getByRole("button", { name: "Load their version" }));

    await user.click(within(dialog).getByRole("button", { name: "Load their version" }));
    await waitFor(() => expect(screen.queryByRole("alertdialog")).toBeNull());
    expect(screen.getByLabelText("Name")).toHaveProperty("value", "Acme East");
    expect(screen.getByLabelText("Notes")).toHaveProperty("value", "call back Monday");
    expect(screen.getByLabelText("Employees")).toHaveProperty("value", "200"); // theirs, untouched by me
    expect(screen.getByText("Their value: Acme General")).toBeTruthy();
    expect(screen.getByText(/Their version 4 is loaded/)).toBeTruthy();

    await user.click(screen.getByRole("button", { name: "Save" }));
    expect(await screen.findByText("Saved. The record is now at version 5.")).toBeTruthy();
    const second = patches(fake.calls)[1];
    expect(second?.headers.get("If-Match")).toBe('"v4"');
    expect(JSON.parse(second?.body ?? "")).toEqual({ name: "Acme East", notes: "call back Monday" });
  });

  it("closes the conflict dialog with Escape and keeps editing", async () => {
    const fake = fakeKindred();
    renderApp(path, fake.api);
    const user = await openEditor();
    fake.store.set(record.id, { ...record, version: 4 });
    await user.type(screen.getByLabelText("Notes"), "x");
    await user.click(screen.getByRole("button", { name: "Save" }));
    await screen.findByRole("alertdialog");
    await user.keyboard("{Escape}");
    expect(screen.queryByRole("alertdialog")).toBeNull();
    expect(screen.getByLabelText("Notes")).toHaveProperty("value", "x");
    await waitFor(() => expect(document.activeElement).toBe(screen.getByRole("button", { name: "Save" })));
  });

  it("says a missing record is not there", async () => {
    renderApp("/records/account/nope", fakeKindred().api);
    expect(
      await screen.findByRole("heading", {
        level: 1,
        name: "This record does not exist or you may not see it.",
      }),
    ).toBeTruthy();
  });
});
