import { screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { fakeKindred } from "../test/fakeKindred";
import { json, renderApp } from "../test/server";
import { getSessionState } from "./store";

describe("session restore from the refresh cookie", () => {
  it("opens the page asked for after a reload when the cookie still holds a session", async () => {
    const { api, calls } = fakeKindred({
      override: (call) =>
        call.path === "/api/v1/auth/refresh"
          ? json({ access_token: "tok", token_type: "bearer", expires_in: 3600 })
          : undefined,
    });
    renderApp("/records/account", api);
    expect(await screen.findByRole("heading", { level: 1, name: "Accounts" })).toBeTruthy();
    expect(getSessionState().session?.token).toBe("tok");
    const refresh = calls.find((c) => c.path === "/api/v1/auth/refresh");
    expect(refresh?.headers.get("X-Kindred-Session")).toBe("refresh");
    expect(calls.some((c) => c.path === "/api/v1/auth/session")).toBe(false);
  });

  it("goes to the sign-in page when there is no session to restore", async () => {
    renderApp("/records/account", fakeKindred().api);
    expect(await screen.findByRole("heading", { name: "Sign in to Kindred" })).toBeTruthy();
    expect(getSessionState().session).toBeNull();
  });
});
