import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { LANGUAGE_KEY } from "../i18n";
import { getSessionState, startSession } from "../session/store";
import { admin, analyst } from "../test/fixtures";
import { fakeKindred } from "../test/fakeKindred";
import { renderApp } from "../test/server";

describe("app shell", () => {
  it("shows the product, the user and role-aware navigation", async () => {
    startSession("tok", 3600, admin);
    renderApp("/records/account", fakeKindred().api);
    const header = await screen.findByRole("banner");
    expect(within(header).getByText("Kindred")).toBeTruthy();
    expect(within(header).getByText(`Signed in as ${admin.name}`)).toBeTruthy();
    const nav = screen.getByRole("navigation", { name: "Main" });
    const links = within(nav).getAllByRole("link");
    expect(links.map((l) => [l.textContent, l.getAttribute("href")])).toEqual([
      ["Records", "/records/account"],
      ["Scenarios", "/scenarios"],
      ["Operations", "/operations"],
      ["Agents", "/agents"],
      ["Tasks", "/tasks"],
      ["Customer graph", "/graph"],
      ["Import", "/import"],
      ["Objects & fields", "/design/objects"],
      ["Governance", "/governance"],
    ]);
    expect(links[0]?.getAttribute("aria-current")).toBe("page");
    expect(screen.getByRole("main")).toBeTruthy();
  });

  it("hides Scenarios from roles that cannot build them", async () => {
    startSession("tok", 3600, analyst);
    renderApp("/records/account", fakeKindred({ me: analyst }).api);
    const nav = await screen.findByRole("navigation", { name: "Main" });
    expect(within(nav).getAllByRole("link").map((l) => l.textContent)).toEqual([
      "Records",
      "Tasks",
      "Customer graph",
    ]);
  });

  it("switches language, remembers it and updates <html lang>", async () => {
    startSession("tok", 3600, admin);
    renderApp("/scenarios", fakeKindred().api);
    const user = userEvent.setup();
    await user.click(await screen.findByRole("button", { name: "中文" }));
    expect(document.documentElement.lang).toBe("zh-CN");
    expect(localStorage.getItem(LANGUAGE_KEY)).toBe("zh-CN");
    expect(screen.getByRole("button", { name: "English" })).toBeTruthy();
    expect(screen.getByRole("button", { name: "退出登录" })).toBeTruthy();
    expect(screen.getByRole("link", { name: "记录" })).toBeTruthy();
    expect(screen.getByRole("heading", { level: 1, name: "场景" })).toBeTruthy();
    expect(document.title).toBe("场景 — Kindred");
    await user.click(screen.getByRole("button", { name: "English" }));
    expect(document.documentElement.lang).toBe("en");
    expect(localStorage.getItem(LANGUAGE_KEY)).toBe("en");
  });

  it("signs out to the sign-in page and forgets the token", async () => {
    startSession("tok", 3600, admin);
    const { router, queryClient } = renderApp("/records/account", fakeKindred().api);
    const user = userEvent.setup();
    await screen.findByRole("table");
    await user.click(screen.getByRole("button", { name: "Sign out" }));
    await waitFor(() => expect(router.state.location.pathname).toBe("/sign-in"));
    expect(getSessionState()).toEqual({ session: null, ended: "signed-out" });
    // The sign-in page loads lazily: wait for its notice rather than assuming it is there.
    await waitFor(() => expect(screen.getByRole("status").textContent).toBe("You have signed out."));
    expect(queryClient.getQueryCache().getAll()).toEqual([]);
  });
});
