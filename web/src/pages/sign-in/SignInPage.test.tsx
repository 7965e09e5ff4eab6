import { screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import i18next from "i18next";
import { describe, expect, it } from "vitest";
import { expireSession, getSessionState, startSession } from "../../session/store";
import { admin } from "../../test/fixtures";
import { fakeKindred } from "../../test/fakeKindred";
import { problem, renderApp } from "../../test/server";
import { returnPath } from "./SignInPage";

async function signIn(password: string) {
  const user = userEvent.setup();
  await user.type(await screen.findByLabelText("Email"), "admin@kindred.demo");
  await user.type(screen.getByLabelText("Password"), password);
  await user.click(screen.getByRole("button", { name: "Sign in" }));
}

describe("sign-in page", () => {
  it("has labelled inputs, a Sign in button, a heading and a title", () => {
    renderApp("/sign-in", fakeKindred().api);
    expect(screen.getByLabelText("Email")).toHaveProperty("type", "email");
    expect(screen.getByLabelText("Password")).toHaveProperty("type", "password");
    expect(screen.getByRole("button", { name: "Sign in" })).toBeTruthy();
    expect(screen.getByRole("heading", { level: 1, name: "Sign in to Kindred" })).toBeTruthy();
    expect(document.title).toBe("Sign in — Kindred");
  });

  it("shows the API's problem detail for wrong credentials", async () => {
    renderApp("/sign-in", fakeKindred().api);
    await signIn("wrong");
    expect((await screen.findByRole("alert")).textContent).toBe(
      "Sign-in failed: wrong email or password",
    );
    expect(getSessionState().session).toBeNull();
  });

  it("shows the Retry-After wait of a 429", async () => {
    const { api } = fakeKindred({
      override: (call) =>
        call.path === "/api/v1/auth/session"
          ? problem(429, { title: "Too many", detail: "locked" }, { "Retry-After": "42" })
          : undefined,
    });
    renderApp("/sign-in", api);
    await signIn("right");
    expect((await screen.findByRole("alert")).textContent).toBe(
      "Too many sign-in attempts. Wait 42 s, then try again.",
    );
  });

  it("signs in, keeps the token in memory only, and opens the first area", async () => {
    const { router } = renderApp("/sign-in", fakeKindred().api);
    await signIn("right");
    await waitFor(() => expect(router.state.location.pathname).toBe("/records/account"));
    expect(getSessionState().session?.token).toBe("tok");
    expect(getSessionState().session?.me.name).toBe(admin.name);
    for (const storage of [localStorage, sessionStorage]) {
      const stored = Array.from({ length: storage.length }, (_, i) => {
        const key = storage.key(i) ?? "";
        return `${key}=${storage.getItem(key) ?? ""}`;
      });
      expect(stored.join(";")).not.toContain("tok");
    }
    expect(document.cookie).not.toContain("tok");
    expect(await screen.findByText(`Signed in as ${admin.name}`)).toBeTruthy();
  });

  it("sends a signed-out visitor to sign in and back where they were going", async () => {
    const { router } = renderApp("/records/account/abc?x=1", fakeKindred().api);
    await waitFor(() => expect(router.state.location.pathname).toBe("/sign-in"));
    await signIn("right");
    await waitFor(() => expect(router.state.location.pathname).toBe("/records/account/abc"));
    expect(router.state.location.search).toBe("?x=1");
  });

  it("says so when the session expired", async () => {
    startSession("tok", 3600, admin);
    const { router } = renderApp("/records/account", fakeKindred().api);
    expireSession();
    await waitFor(() => expect(router.state.location.pathname).toBe("/sign-in"));
    expect(screen.getByRole("status").textContent).toBe(
      "Your session has expired. Please sign in again.",
    );
  });

  it("is named in Chinese when the language is Chinese", async () => {
    await i18next.changeLanguage("zh-CN");
    renderApp("/sign-in", fakeKindred().api);
    expect(screen.getByLabelText("邮箱")).toBeTruthy();
    expect(screen.getByLabelText("密码")).toBeTruthy();
    expect(screen.getByRole("button", { name: "登录" })).toBeTruthy();
    expect(screen.getByRole("button", { name: "English" })).toBeTruthy();
  });

  it("returns only to paths inside the console", () => {
    expect(returnPath({ from: "/records/lead" })).toBe("/records/lead");
    expect(returnPath({ from: "//evil.example/x" })).toBeNull();
    expect(returnPath({ from: "https://evil.example" })).toBeNull();
    expect(returnPath({ from: "/sign-in" })).toBeNull();
    expect(returnPath(null)).toBeNull();
  });
});
