/** The notification inbox and the header's unread count against a fake API: what the reader
 * sees, what is sent when they mark, withheld text, unsafe links, axe. */
import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import axe from "axe-core";
import i18next from "i18next";
import { afterEach, describe, expect, it } from "vitest";
import type { Notification } from "../../api/notifications";
import { startSession } from "../../session/store";
import { fakeKindred } from "../../test/fakeKindred";
import { admin } from "../../test/fixtures";
import { json, renderApp, type Call } from "../../test/server";
import { safeLink } from "./NotificationsPage";

function note(id: string, extra: Partial<Notification> = {}): Notification {
  return {
    id,
    title: `Device fault at ${id}`,
    message: "CT scanner E42: a service engineer is on the way",
    link: "/records/account/acc-1",
    about: { object: "account", id: "acc-1" },
    created_at: "2026-12-07T09:30:00+00:00",
    read_at: null,
    role: null,
    run_id: "run-1",
    scenario: "device-fault-service-chain",
    source: "scenario:device-fault-service-chain",
    withheld: null,
    ...extra,
  };
}

function inbox(notes: Notification[]) {
  const read = new Set(notes.filter((n) => n.read_at).map((n) => n.id));
  const handler = (call: Call): Response | undefined => {
    const { method, path } = call;
    const view = () =>
      notes.map((n) => ({ ...n, read_at: read.has(n.id) ? "2026-12-07T10:00:00+00:00" : null }));
    const unread = () => notes.length - read.size;
    if (method === "GET" && path === "/api/v1/notifications") {
      const only = call.query.get("unread") === "true";
      const limit = Number(call.query.get("limit") ?? "25");
      const data = view().filter((n) => !only || n.read_at === null).slice(0, limit);
      return json({ data, next_cursor: null, unread: unread() });
    }
    const one = /^\/api\/v1\/notifications\/([\w-]+)\/read$/.exec(path);
    if (one && method === "POST") {
      read.add(one[1] as string);
      return json(view().find((n) => n.id === one[1]));
    }
    if (one && method === "DELETE") {
      read.delete(one[1] as string);
      return json(view().find((n) => n.id === one[1]));
    }
    if (method === "POST" && path === "/api/v1/notifications/read-all") {
      const marked = unread();
      notes.forEach((n) => read.add(n.id));
      return json({ marked, unread: 0 });
    }
    return undefined;
  };
  return { handler, read };
}

async function violations(): Promise<string[]> {
  const result = await axe.run(document.documentElement, {
    rules: { "color-contrast": { enabled: false } },
    resultTypes: ["violations"],
  });
  return result.violations.map((v) => `${v.impact ?? "?"} ${v.id}`);
}

afterEach(async () => {
  await i18next.changeLanguage("en");
});

describe("notification inbox", () => {
  it("shows the unread count in the header and marks one read, then all", async () => {
    startSession("tok", 3600, admin);
    const box = inbox([note("n-1"), note("n-2"), note("n-3", { read_at: "2026-12-06T08:00:00+00:00" })]);
    const fake = fakeKindred({ override: box.handler });
    renderApp("/notifications", fake.api);
    expect(await screen.findByRole("link", { name: "Notifications, 2 unread" })).toBeTruthy();
    const list = await screen.findByRole("list", { name: "Your notifications, newest first" });
    expect(within(list).getAllByRole("listitem")).toHaveLength(3);
    const first = within(list).getAllByRole("listitem")[0] as HTMLElement;
    expect(within(first).getByRole("link", { name: "About this record" }).getAttribute("href")).toBe(
      "/records/account/acc-1",
    );
    await userEvent.click(within(first).getByRole("button", { name: "Mark read" }));
    await within(first).findByRole("button", { name: "Mark unread" });
    expect(fake.calls.some((c) => c.method === "POST" && c.path === "/api/v1/notifications/n-1/read")).toBe(true);
    expect(box.read.has("n-1") && !box.read.has("n-2")).toBe(true);
    await screen.findByRole("link", { name: "Notifications, 1 unread" });

    await userEvent.click(screen.getByRole("radio", { name: "Unread only" }));
    await waitFor(() => expect(within(screen.getByRole("list", { name: /newest first/ })).getAllByRole("listitem")).toHaveLength(1));
    await userEvent.click(screen.getByRole("button", { name: "Mark all read" }));
    expect(await screen.findByText("Marked as read: 1.")).toBeTruthy();
    expect(await screen.findByText("Nothing unread.")).toBeTruthy();
    await screen.findByRole("link", { name: "Notifications" });
    expect(await violations()).toEqual([]);
  });

  it("says when text is withheld, and never links an unsafe scheme", async () => {
    await i18next.changeLanguage("zh-CN");
    startSession("tok", 3600, admin);
    const withheld = note("n-9", { title: null, message: null, link: null, withheld: "not visible" });
    const box = inbox([withheld, note("n-8", { link: "javascript:alert(1)", about: null })]);
    renderApp("/notifications", fakeKindred({ override: box.handler }).api);
    expect(await screen.findByText("内容已隐藏：它引用了相关记录，而你无权查看该记录的全部内容。")).toBeTruthy();
    const items = within(await screen.findByRole("list", { name: "你的通知，最新的在前" })).getAllByRole("listitem");
    expect(within(items[1] as HTMLElement).queryByRole("link")).toBeNull();
    expect(document.querySelector('a[href^="javascript"]')).toBeNull();
  });
});

describe("safeLink", () => {
  it("keeps console paths and web addresses, drops every other scheme", () => {
    expect(safeLink("/records/account/a")).toEqual({ internal: "/records/account/a" });
    expect(safeLink("https://erp.example/o/1")).toEqual({ external: "https://erp.example/o/1" });
    expect(safeLink("//evil.example")).toBeNull();
    expect(safeLink("javascript:alert(1)")).toBeNull();
    expect(safeLink("data:text/html,x")).toBeNull();
    expect(safeLink(null)).toBeNull();
  });
});
