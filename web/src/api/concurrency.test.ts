import { describe, expect, it } from "vitest";
import { fakeServer, json, problem } from "../test/server";
import { accountRecord, admin } from "../test/fixtures";
import { endSession, getSessionState, startSession } from "../session/store";
import { classifySaveProblem, ifMatch, versionFromEtag } from "./concurrency";
import { ApiProblem } from "./problem";

describe("ETag and If-Match", () => {
  it("writes and reads the server's version tags", () => {
    expect(ifMatch(3)).toBe('"v3"');
    expect(versionFromEtag('"v12"')).toBe(12);
    expect(versionFromEtag('W/"v2"')).toBe(2);
    expect(versionFromEtag("*")).toBeNull();
    expect(versionFromEtag(null)).toBeNull();
    expect(() => ifMatch(0)).toThrow(RangeError);
  });

  it("PATCHes only the given fields with If-Match and the bearer token", async () => {
    const { api, calls } = fakeServer((call) =>
      call.method === "PATCH"
        ? json(accountRecord({ version: 4, name: "Acme 2" }), { headers: { ETag: '"v4"' } })
        : undefined,
    );
    startSession("tok-1", 3600, admin);
    const saved = await api.updateRecord("account", "r1", { name: "Acme 2" }, 3);
    expect(saved.version).toBe(4);
    expect(saved.record.name).toBe("Acme 2");
    const [call] = calls;
    expect(call?.path).toBe("/api/v1/objects/account/records/r1");
    expect(call?.headers.get("If-Match")).toBe('"v3"');
    expect(call?.headers.get("Authorization")).toBe("Bearer tok-1");
    expect(call?.headers.get("Content-Type")).toBe("application/json");
    expect(JSON.parse(call?.body ?? "")).toEqual({ name: "Acme 2" });
  });

  it("turns a 412 into a conflict carrying the current version", async () => {
    const { api } = fakeServer(() =>
      problem(412, {
        type: "https://kindred.dev/problems/precondition-failed",
        title: "Precondition failed",
        detail: "account r1 is at version 5, not 3",
        current_version: 5,
      }),
    );
    startSession("tok-1", 3600, admin);
    const error = await api.updateRecord("account", "r1", { name: "x" }, 3).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiProblem);
    expect(classifySaveProblem(error as ApiProblem)).toEqual({ kind: "conflict", currentVersion: 5 });
  });

  it("classifies the other refusals of a save", () => {
    const make = (status: number, errors: { path: string; code: string; message: string }[] = []) =>
      new ApiProblem({ type: "t", title: "t", status, detail: "d", errors });
    expect(classifySaveProblem(make(422))).toEqual({ kind: "invalid" });
    expect(classifySaveProblem(make(400, [{ path: "/x", code: "c", message: "m" }]))).toEqual({
      kind: "invalid",
    });
    expect(classifySaveProblem(make(400))).toEqual({ kind: "failed" });
    expect(classifySaveProblem(make(403))).toEqual({ kind: "failed" });
    expect(classifySaveProblem(make(401))).toEqual({ kind: "signed-out" });
  });
});

describe("401 handling", () => {
  it("ends the session as expired when the current token is refused", async () => {
    const { api } = fakeServer(() => problem(401, { title: "Authentication required", detail: "expired" }));
    startSession("tok-1", 3600, admin);
    await expect(api.objects()).rejects.toBeInstanceOf(ApiProblem);
    expect(getSessionState()).toEqual({ session: null, ended: "expired" });
  });

  it("does not treat a refused sign-in as an expired session", async () => {
    const { api } = fakeServer(() => problem(401, { detail: "wrong email or password" }));
    await expect(api.signIn("a@b.c", "nope")).rejects.toMatchObject({
      status: 401,
      detail: "wrong email or password",
    });
    expect(getSessionState().ended).toBeNull();
  });

  it("ignores a 401 for a token that is no longer the session's", async () => {
    let release: (r: Response) => void = () => undefined;
    const { api } = fakeServer(() => new Promise<Response>((resolve) => (release = resolve)));
    startSession("old", 3600, admin);
    const pending = api.objects().catch(() => null);
    await new Promise((r) => setTimeout(r, 0));
    endSession("signed-out");
    startSession("new", 3600, admin);
    release(problem(401, { detail: "expired" }));
    await pending;
    expect(getSessionState().session?.token).toBe("new");
  });

  it("signs in as a browser session with a password form", async () => {
    const { api, calls } = fakeServer(() =>
      json({ access_token: "t", token_type: "bearer", expires_in: 3600 }),
    );
    await api.signIn("admin@kindred.demo", "p&ss=word");
    const call = calls[0];
    expect(call?.path).toBe("/api/v1/auth/session");
    expect(call?.headers.get("Content-Type")).toBe("application/x-www-form-urlencoded");
    expect(Object.fromEntries(new URLSearchParams(call?.body))).toEqual({
      username: "admin@kindred.demo",
      password: "p&ss=word",
    });
    expect(call?.headers.get("Authorization")).toBeNull();
  });

  it("refreshes with the custom header and never ends the session on its 401", async () => {
    const { api, calls } = fakeServer(() => problem(401, { title: "Authentication required" }));
    startSession("tok", 3600, admin);
    await expect(api.refresh()).rejects.toMatchObject({ status: 401 });
    expect(calls[0]?.path).toBe("/api/v1/auth/refresh");
    expect(calls[0]?.headers.get("X-Kindred-Session")).toBe("refresh");
    expect(getSessionState().session?.token).toBe("tok");
  });
});
