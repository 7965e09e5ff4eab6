import { QueryClientProvider } from "@tanstack/react-query";
import { render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import axe from "axe-core";
import i18next from "i18next";
import { StrictMode } from "react";
import { createMemoryRouter, RouterProvider } from "react-router";
import { afterEach, describe, expect, it, vi } from "vitest";
import { makeQueryClient } from "../../App";
import { routes } from "../../routes";
import { SessionProvider } from "../../session/SessionContext";
import { getSessionState, startSession } from "../../session/store";
import { fakeKindred } from "../../test/fakeKindred";
import { admin } from "../../test/fixtures";
import { json, problem, renderApp, type Call } from "../../test/server";
import type { PassportData } from "./passportApi";

const DID = "did:key:z6MkpTHR8VNsBxYAAWHut2Geadd9jSwuBV8xRoAnwWsdvktH";

const passport: PassportData = {
  did: DID,
  custody: "custodial",
  subject: { object: "contact", id: "c-1" },
  domains: [{ name: "crm", did: "did:web:localhost%3A8000:domains:crm" }],
  dimensions: [
    {
      dimension: "contact.first_name",
      label: "First name",
      domain: "crm",
      class: "enterprise_owned",
      held: true,
      value: "Lei",
      consents: [],
      accesses: [],
      provenance: null,
    },
    {
      dimension: "contact.last_name",
      label: "Last name",
      domain: "crm",
      class: "enterprise_owned",
      held: true,
      value: "Li",
      consents: [],
      accesses: [],
      provenance: null,
    },
    {
      dimension: "contact.email",
      label: "Email",
      domain: "crm",
      class: "customer_authorized",
      held: true,
      value: "lilei@example.com",
      consents: ["urn:uuid:1"],
      accesses: [
        {
          accessor: "user:sales-east",
          allowed: true,
          at: "2026-12-01T08:30:00Z",
          channel: "api",
          purpose: "marketing",
          reason: "consent",
        },
      ],
      provenance: null,
    },
  ],
};

/** The customer side of the server: a passport session for the token "good", once. */
function passportServer(
  answer: (call: Call) => Response | undefined = () => undefined,
): { calls: Call[] } {
  const calls: Call[] = [];
  let used = false;
  vi.stubGlobal("fetch", async (request: Request) => {
    const url = new URL(request.url);
    const call: Call = {
      method: request.method,
      path: url.pathname,
      query: url.searchParams,
      headers: request.headers,
      body: request.body ? await request.text() : "",
    };
    calls.push(call);
    const custom = answer(call);
    if (custom) return custom;
    if (call.method === "POST" && call.path === "/api/v1/passport/session") {
      const token = (JSON.parse(call.body) as { magic_link?: string }).magic_link;
      if (token !== "good" || used) {
        return problem(401, {
          title: "Passport sign-in refused",
          detail: used ? "this magic-link was already used (a replay)" : "unknown magic-link",
          reason: used ? "replayed" : "unknown",
        });
      }
      used = true;
      return json(
        { token: "passport-jwt", did: DID, via: "magic-link", expires_in: 900 },
        { status: 201 },
      );
    }
    if (call.method === "GET" && call.path === "/api/v1/passport/data") {
      if (call.headers.get("Authorization") !== "Bearer passport-jwt") {
        return problem(401, { title: "Authentication required", detail: "sign in" });
      }
      return json(passport);
    }
    if (call.method === "POST" && call.path === "/api/v1/passport/magic-link") {
      return json({ status: "if the address belongs to a customer, a link is on its way" }, { status: 202 });
    }
    return problem(404, { title: "Not found", detail: `no fake for ${call.method} ${call.path}` });
  });
  return { calls };
}

const sessionCalls = (calls: Call[]) =>
  calls.filter((c) => c.method === "POST" && c.path === "/api/v1/passport/session");

afterEach(() => {
  vi.unstubAllGlobals();
});

describe("passport page", () => {
  it("signs a customer in from the emailed link, with no staff session, and shows the passport", async () => {
    const { calls } = passportServer();
    const staff = fakeKindred();
    const { router } = renderApp("/passport?token=good", staff.api);
    expect(await screen.findByText("Signed in as Lei Li")).toBeTruthy();
    // The token left the address (a replaced entry), and the staff gate never stepped in.
    expect(router.state.location.pathname).toBe("/passport");
    expect(router.state.location.search).toBe("");
    expect(router.state.historyAction).toBe("REPLACE");
    expect(getSessionState().session).toBeNull();
    // One sign-in, with the link's token; the passport read with the passport session.
    expect(sessionCalls(calls)).toHaveLength(1);
    const signIn = sessionCalls(calls)[0];
    expect(JSON.parse(signIn?.body ?? "null")).toEqual({ magic_link: "good" });
    expect(signIn?.headers.get("Authorization")).toBeNull();
    const read = calls.find((c) => c.path === "/api/v1/passport/data");
    expect(read?.headers.get("Authorization")).toBe("Bearer passport-jwt");
    // Who is signed in, and what the passport shows.
    expect(screen.getByText(DID)).toBeTruthy();
    expect(document.title).toBe("Your data passport — Kindred");
    const table = screen.getByRole("table", { name: "The data held about you" });
    const email = within(table).getByRole("row", { name: /Email/ });
    expect(within(email).getByText("lilei@example.com")).toBeTruthy();
    expect(within(email).getByText("1 active")).toBeTruthy();
    expect(within(email).getByText(/by user:sales-east/)).toBeTruthy();
    expect(within(table).getAllByText("not read yet")).toHaveLength(2);
  });

  it("signs in once even when React runs its effects twice (strict mode)", async () => {
    const { calls } = passportServer();
    const queryClient = makeQueryClient();
    const router = createMemoryRouter(routes, { initialEntries: ["/passport?token=good"] });
    render(
      <StrictMode>
        <QueryClientProvider client={queryClient}>
          <SessionProvider api={fakeKindred().api}>
            <RouterProvider router={router} />
          </SessionProvider>
        </QueryClientProvider>
      </StrictMode>,
    );
    expect(await screen.findByText("Signed in as Lei Li")).toBeTruthy();
    expect(sessionCalls(calls)).toHaveLength(1);
  });

  it("says a used link was used, sends no staff token, and ends no staff session", async () => {
    const { calls } = passportServer((call) =>
      call.path === "/api/v1/passport/session"
        ? problem(401, { title: "Passport sign-in refused", detail: "replay", reason: "replayed" })
        : undefined,
    );
    startSession("tok", 3600, admin);
    renderApp("/passport?token=good", fakeKindred().api);
    expect((await screen.findByRole("alert")).textContent).toBe(
      "This sign-in link has already been used: each link works once. Ask for a new one below.",
    );
    expect(sessionCalls(calls)[0]?.headers.get("Authorization")).toBeNull();
    expect(getSessionState().session?.token).toBe("tok");
  });

  it("says an expired link has expired, and a new link can be asked for", async () => {
    const { calls } = passportServer((call) =>
      call.path === "/api/v1/passport/session"
        ? problem(401, { title: "Passport sign-in refused", detail: "expired", reason: "expired" })
        : undefined,
    );
    renderApp("/passport?token=old", fakeKindred().api);
    expect((await screen.findByRole("alert")).textContent).toBe(
      "This sign-in link has expired. Ask for a new one below.",
    );
    const user = userEvent.setup();
    await user.type(screen.getByLabelText("Your email address"), "lilei@example.com");
    await user.click(screen.getByRole("button", { name: "Send the link" }));
    expect(
      await screen.findByText(
        "If this address belongs to a customer, a link is on its way. It works once, within 15 minutes.",
      ),
    ).toBeTruthy();
    const asked = calls.find((c) => c.path === "/api/v1/passport/magic-link");
    expect(JSON.parse(asked?.body ?? "null")).toEqual({ email: "lilei@example.com" });
  });

  it("says what to do when opened without a link, and signs nobody in", async () => {
    const { calls } = passportServer();
    renderApp("/passport", fakeKindred().api);
    expect(
      await screen.findByText("This page opens from the sign-in link we email you. Ask for one below."),
    ).toBeTruthy();
    expect(sessionCalls(calls)).toHaveLength(0);
  });

  it("speaks Simplified Chinese", async () => {
    passportServer((call) =>
      call.path === "/api/v1/passport/session"
        ? problem(401, { title: "Passport sign-in refused", detail: "unknown", reason: "unknown" })
        : undefined,
    );
    await i18next.changeLanguage("zh-CN");
    renderApp("/passport?token=typo", fakeKindred().api);
    expect(await screen.findByRole("heading", { level: 1, name: "我的数据护照" })).toBeTruthy();
    expect((await screen.findByRole("alert")).textContent).toBe(
      "此登录链接无效。请确认打开的是完整链接，或在下方申请新的链接。",
    );
  });

  it("shows the customer's name in Chinese order in Chinese", async () => {
    passportServer();
    await i18next.changeLanguage("zh-CN");
    renderApp("/passport?token=good", fakeKindred().api);
    expect(await screen.findByText("已登录：LiLei")).toBeTruthy();
  });

  it.each(["en", "zh-CN"])("has no axe violations, signed in or refused (%s)", async (language) => {
    passportServer();
    await i18next.changeLanguage(language);
    for (const token of ["good", "typo"]) {
      const view = renderApp(`/passport?token=${token}`, fakeKindred().api);
      await screen.findByRole(token === "good" ? "table" : "alert");
      const result = await axe.run(document.documentElement, {
        rules: { "color-contrast": { enabled: false } }, // needs layout: the browser tests'
        resultTypes: ["violations"],
      });
      expect(result.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`)).toEqual([]);
      expect(screen.getAllByRole("heading", { level: 1 })).toHaveLength(1);
      expect(document.documentElement.lang).toBe(language);
      view.unmount();
    }
  });
});
