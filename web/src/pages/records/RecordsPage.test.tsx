import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it } from "vitest";
import { startSession } from "../../session/store";
import { accountRecord, admin, analyst } from "../../test/fixtures";
import { fakeKindred } from "../../test/fakeKindred";
import { renderApp } from "../../test/server";

const listCalls = (calls: { method: string; path: string; query: URLSearchParams }[]) =>
  calls.filter((c) => c.method === "GET" && c.path === "/api/v1/objects/account/records");

describe("records page", () => {
  beforeEach(() => startSession("tok", 3600, admin));

  it("lists records in a table with the first 6 readable fields", async () => {
    const fake = fakeKindred();
    renderApp("/records/account", fake.api);
    const table = await screen.findByRole("table");
    expect(screen.getByRole("heading", { level: 1, name: "Accounts" })).toBeTruthy();
    expect(document.title).toBe("Accounts — Kindred");
    const headers = within(table).getAllByRole("columnheader").map((h) => h.textContent);
    expect(headers).toEqual(["Name↕", "Tier↕", "Employees↕", "Active↕", "Founded↕", "Email address"]);
    expect(within(table).getByRole("link", { name: "Acme Hospital" }).getAttribute("href")).toBe(
      `/records/account/${accountRecord().id}`,
    );
    expect(within(table).getByText("Key account")).toBeTruthy();
    const first = listCalls(fake.calls)[0];
    expect(first?.query.get("limit")).toBe("50");
  });

  it("shows a withheld value as a lock with its reason, never empty", async () => {
    renderApp("/records/account", fakeKindred().api);
    const cell = await screen.findByText("withheld: no consent");
    expect(cell.closest("td")).toBeTruthy();
    expect(cell.closest(".withheld")?.querySelector("svg")?.getAttribute("aria-hidden")).toBe("true");
  });

  it("shows fields hidden by the user's role as withheld, and offers no column for them", async () => {
    startSession("tok", 3600, analyst);
    const record = accountRecord();
    delete record.tier; // as if withheld by a rule the console did not know about
    renderApp("/records/account", fakeKindred({ me: analyst, records: [record] }).api);
    const table = await screen.findByRole("table");
    expect(within(table).getByText("withheld: not allowed for your role")).toBeTruthy();
    await userEvent.setup().click(screen.getByRole("button", { name: "Columns" }));
    expect(screen.queryByRole("checkbox", { name: "Phone" })).toBeNull();
  });

  it("sorts by a header click, then reverses", async () => {
    const fake = fakeKindred();
    renderApp("/records/account", fake.api);
    const user = userEvent.setup();
    await screen.findByRole("table");
    await user.click(screen.getByRole("button", { name: "Employees" }));
    await waitFor(() => expect(listCalls(fake.calls).at(-1)?.query.get("sort")).toBe("employees"));
    expect(
      screen.getByRole("columnheader", { name: "Employees" }).getAttribute("aria-sort"),
    ).toBe("ascending");
    await user.click(screen.getByRole("button", { name: "Employees" }));
    await waitFor(() => expect(listCalls(fake.calls).at(-1)?.query.get("sort")).toBe("-employees"));
    expect(screen.getByRole("table").querySelector("caption")?.textContent).toBe(
      "Accounts, sorted by Employees descending",
    );
    // Customer-authorized values cannot be sorted: their header is not a button.
    expect(screen.queryByRole("button", { name: "Email address" })).toBeNull();
  });

  it("filters as you type on the title field with contains", async () => {
    const fake = fakeKindred();
    renderApp("/records/account", fake.api);
    await screen.findByRole("table");
    await userEvent.setup().type(screen.getByLabelText("Filter"), "acme");
    await waitFor(() =>
      expect(listCalls(fake.calls).at(-1)?.query.get("filter[name][contains]")).toBe("acme"),
    );
    // Typing does not send a request per key.
    expect(listCalls(fake.calls).filter((c) => c.query.has("filter[name][contains]"))).toHaveLength(1);
  });

  it("pages forward with the cursor and back again", async () => {
    const fake = fakeKindred();
    renderApp("/records/account", fake.api);
    const user = userEvent.setup();
    await screen.findByRole("table");
    expect(screen.getByRole("button", { name: "Previous page" })).toHaveProperty("disabled", true);
    await user.click(screen.getByRole("button", { name: "Next page" }));
    await waitFor(() => expect(listCalls(fake.calls).at(-1)?.query.get("cursor")).toBe("cursor-2"));
    expect(screen.getByText("Page 2")).toBeTruthy();
    await user.click(screen.getByRole("button", { name: "Previous page" }));
    expect(screen.getByText("Page 1")).toBeTruthy();
  });

  it("picks another object and chooses columns", async () => {
    const { router } = renderApp("/records/account", fakeKindred().api);
    const user = userEvent.setup();
    await screen.findByRole("table");
    await user.click(screen.getByRole("button", { name: "Columns" }));
    expect(screen.getByRole("button", { name: "Columns" }).getAttribute("aria-expanded")).toBe("true");
    await user.click(screen.getByRole("checkbox", { name: "Phone" }));
    expect(screen.getByRole("columnheader", { name: "Phone" })).toBeTruthy();
    await user.click(screen.getByRole("checkbox", { name: "Tier" }));
    expect(screen.queryByRole("columnheader", { name: "Tier" })).toBeNull();
    await user.selectOptions(screen.getByLabelText("Object"), "contact");
    await waitFor(() => expect(router.state.location.pathname).toBe("/records/contact"));
    expect(await screen.findByRole("heading", { level: 1, name: "Contacts" })).toBeTruthy();
  });

  it("redirects /records to the user's default object", async () => {
    const { router } = renderApp("/records", fakeKindred().api);
    await waitFor(() => expect(router.state.location.pathname).toBe("/records/account"));
  });
});
