/**
 * The real pages against a real server, in jsdom (no browser needed):
 *
 *   kindred demo --customers 100        # prints "serving on http://127.0.0.1:8765"
 *   KINDRED_LIVE_URL=http://127.0.0.1:8765 npm run test:live
 *
 * It signs in with the demo logins, and edits (and so versions) one demo account.
 * Skipped when KINDRED_LIVE_URL is not set.
 */
import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { createApiClient, makeApi } from "../api/client";
import type { RecordData } from "../api/types";
import { getSessionState } from "../session/store";
import { renderApp } from "../test/server";

const LIVE = process.env.KINDRED_LIVE_URL ?? "";
const PASSWORD = process.env.KINDRED_LIVE_PASSWORD ?? "kindred-demo-2026";
const api = makeApi(createApiClient({ baseUrl: LIVE }));
// Argon2 makes a sign-in take a moment.
const SIGN_IN = { timeout: 10000 };

async function signIn(email: string, password = PASSWORD) {
  const user = userEvent.setup();
  await user.type(await screen.findByLabelText("Email"), email);
  await user.type(screen.getByLabelText("Password"), password);
  await user.click(screen.getByRole("button", { name: "Sign in" }));
  return user;
}

async function rows(): Promise<HTMLElement[]> {
  const table = await screen.findByRole("table", {}, { timeout: 5000 });
  await waitFor(() => expect(table.getAttribute("aria-busy")).toBe("false"));
  return within(table).getAllByRole("row").slice(1);
}

describe.skipIf(!LIVE)("live server", { timeout: 30000 }, () => {
  it("signs in as admin and lists, sorts, filters and pages accounts", async () => {
    const { router } = renderApp("/", api);
    const user = await signIn("admin@kindred.demo");
    await waitFor(() => expect(router.state.location.pathname).toBe("/records/account"), SIGN_IN);
    expect(screen.getByText(/Signed in as/).textContent).toContain("Admin");
    const nav = screen.getByRole("navigation", { name: "Main" });
    expect(within(nav).getAllByRole("link").map((l) => l.textContent)).toEqual([
      "Records",
      "Scenarios",
    ]);
    const objectPicker = screen.getByLabelText("Object");
    await waitFor(() =>
      expect(within(objectPicker).getAllByRole("option").length).toBeGreaterThan(10),
    );
    expect((await rows()).length).toBe(50);

    await user.click(screen.getByRole("button", { name: "Name" }));
    await waitFor(() =>
      expect(screen.getByRole("columnheader", { name: /Name/ }).getAttribute("aria-sort")).toBe(
        "ascending",
      ),
    );
    const names = (await rows()).map((r) => within(r).getAllByRole("rowheader")[0]?.textContent ?? "");
    expect(names).toEqual([...names].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
    expect(screen.queryByRole("alert")).toBeNull();

    const firstPage = names[0];
    await user.click(screen.getByRole("button", { name: "Next page" }));
    await waitFor(() => expect(screen.getByText("Page 2")).toBeTruthy());
    await waitFor(async () =>
      expect(within((await rows())[0] as HTMLElement).getAllByRole("rowheader")[0]?.textContent).not.toBe(
        firstPage,
      ),
    );

    await user.type(screen.getByLabelText("Filter"), "#1");
    await waitFor(() => expect(screen.getByText("Page 1")).toBeTruthy());
    await waitFor(async () => {
      const filtered = await rows();
      expect(filtered.length).toBeGreaterThan(0);
      for (const row of filtered) expect(row.textContent).toContain("#1");
    });
    expect(screen.queryByRole("alert")).toBeNull();
  });

  it("shows contacts' customer-authorized values as withheld with the reason", async () => {
    const { router } = renderApp("/records/contact", api);
    await signIn("sales.east@kindred.demo");
    await waitFor(() => expect(router.state.location.pathname).toBe("/records/contact"), SIGN_IN);
    await rows();
    expect(screen.getAllByText(/^withheld: /).length).toBeGreaterThan(0);
    expect(screen.getAllByText("withheld: no purpose declared").length).toBeGreaterThan(0);
  });

  it("edits an account: 422 at the field, 412 keeps the typing, then saves", async () => {
    const { router } = renderApp("/records/account", api);
    const user = await signIn("admin@kindred.demo");
    await waitFor(() => expect(router.state.location.pathname).toBe("/records/account"), SIGN_IN);
    const first = (await rows())[0] as HTMLElement;
    await user.click(within(first).getAllByRole("link")[0] as HTMLElement);
    await waitFor(() => expect(router.state.location.pathname).toMatch(/^\/records\/account\/.+/));
    const id = router.state.location.pathname.split("/").pop() ?? "";
    await user.click(await screen.findByRole("button", { name: "Edit" }));

    // 422: Name is required.
    const name = screen.getByLabelText("Name");
    const original = (name as HTMLInputElement).value;
    await user.clear(name);
    await user.click(screen.getByRole("button", { name: "Save" }));
    await waitFor(() => expect(name.getAttribute("aria-invalid")).toBe("true"));
    expect(document.getElementById(name.getAttribute("aria-describedby") ?? "")?.textContent).toBe(
      "'name' is required",
    );

    // Someone else saves meanwhile (same API, outside the form).
    const token = getSessionState().session?.token ?? "";
    const theirs = await fetch(`${LIVE}/api/v1/objects/account/records/${id}`, {
      headers: { Authorization: `Bearer ${token}` },
    });
    const before = (await theirs.json()) as RecordData;
    const stamp = `changed elsewhere ${Date.now()}`;
    const other = await fetch(`${LIVE}/api/v1/objects/account/records/${id}`, {
      method: "PATCH",
      headers: {
        Authorization: `Bearer ${token}`,
        "Content-Type": "application/json",
        "If-Match": `"v${before.version}"`,
      },
      body: JSON.stringify({ description: stamp }),
    });
    expect(other.status).toBe(200);

    await user.type(name, `${original} (edited)`);
    await user.click(screen.getByRole("button", { name: "Save" }));
    const dialog = await screen.findByRole("alertdialog", { name: "Someone saved this record first" });
    expect(screen.getByDisplayValue(`${original} (edited)`)).toBeTruthy();
    await user.click(within(dialog).getByRole("button", { name: "Load their version" }));
    await waitFor(() => expect(screen.queryByRole("alertdialog")).toBeNull());
    expect(screen.getByLabelText("Name")).toHaveProperty("value", `${original} (edited)`);
    expect(screen.getByLabelText("Description")).toHaveProperty("value", stamp);

    await user.click(screen.getByRole("button", { name: "Save" }));
    const saved = await screen.findByText(/^Saved\. The record is now at version \d+\.$/);
    expect(saved.textContent).toBe(`Saved. The record is now at version ${before.version + 2}.`);
    const after = (await (
      await fetch(`${LIVE}/api/v1/objects/account/records/${id}`, {
        headers: { Authorization: `Bearer ${token}` },
      })
    ).json()) as RecordData;
    expect(after.name).toBe(`${original} (edited)`);
    expect(after.description).toBe(stamp);

    // Put the name back, so the demo data stays as it was (apart from the version).
    await fetch(`${LIVE}/api/v1/objects/account/records/${id}`, {
      method: "PATCH",
      headers: {
        Authorization: `Bearer ${token}`,
        "Content-Type": "application/json",
        "If-Match": `"v${after.version}"`,
      },
      body: JSON.stringify({ name: original, description: before.description ?? null }),
    });
  });

  it("shows the server's detail for a wrong password, and the wait after too many", async () => {
    renderApp("/sign-in", api);
    const email = `nobody-${Date.now()}@kindred.demo`;
    const user = await signIn(email, "wrong");
    expect((await screen.findByRole("alert")).textContent).toBe(
      "Sign-in failed: wrong email or password",
    );
    // Per account, 5 failures in a row lock it (429 with Retry-After).
    for (let attempt = 0; attempt < 8; attempt++) {
      if (/^Too many/.test(screen.getByRole("alert").textContent)) break;
      await user.click(screen.getByRole("button", { name: "Sign in" }));
      await waitFor(() => expect(screen.queryByText("Signing in…")).toBeNull(), { timeout: 5000 });
    }
    expect(screen.getByRole("alert").textContent).toMatch(
      /^Too many sign-in attempts\. Wait \d+ s, then try again\.$/,
    );
  }, 30000);
});
