/** A small in-memory Kindred for page tests: sign-in, me, metadata, list, get, patch. */
import type { Me, RecordData } from "../api/types";
import { account, accountRecord, admin, contact } from "./fixtures";
import { fakeServer, json, problem, type Call } from "./server";

export interface FakeOptions {
  me?: Me;
  records?: RecordData[];
  /** Answer a call before the defaults (return undefined to fall through). */
  override?: (call: Call) => Response | Promise<Response> | undefined;
}

export function fakeKindred(options: FakeOptions = {}) {
  const me = options.me ?? admin;
  const store = new Map((options.records ?? [accountRecord()]).map((r) => [r.id, r]));
  const server = fakeServer(async (call) => {
    const overridden = await options.override?.(call);
    if (overridden) return overridden;
    const { method, path } = call;
    if (method === "POST" && path === "/api/v1/auth/refresh") {
      return problem(401, { title: "Authentication required", detail: "no session cookie: sign in" });
    }
    if (method === "POST" && path === "/api/v1/auth/logout") return new Response(null, { status: 204 });
    if (method === "POST" && (path === "/api/v1/auth/token" || path === "/api/v1/auth/session")) {
      const form = new URLSearchParams(call.body);
      if (form.get("password") !== "right") {
        return problem(401, { title: "Authentication required", detail: "wrong email or password" });
      }
      return json({ access_token: "tok", token_type: "bearer", expires_in: 3600 });
    }
    if (call.headers.get("Authorization") !== "Bearer tok") {
      return problem(401, { title: "Authentication required", detail: "sign in" });
    }
    if (method === "GET" && path === "/api/v1/auth/me") return json(me);
    // The header's unread count: an empty inbox unless a test says otherwise.
    if (method === "GET" && path === "/api/v1/notifications") {
      return json({ data: [], next_cursor: null, unread: 0 });
    }
    if (method === "GET" && path === "/api/v1/metadata/objects") {
      return json({ data: [account, contact] });
    }
    const list = /^\/api\/v1\/objects\/(\w+)\/records$/.exec(path);
    if (method === "GET" && list) {
      const data = [...store.values()].filter((r) => r.object === list[1]);
      return json({ data, next_cursor: data.length ? "cursor-2" : null });
    }
    const one = /^\/api\/v1\/objects\/(\w+)\/records\/([\w-]+)$/.exec(path);
    const id = one?.[2] ?? "";
    const current = store.get(id);
    if (one && !current) return problem(404, { title: "Not found", detail: "no such record" });
    if (one && current && method === "GET") {
      return json(current, { headers: { ETag: `"v${current.version}"` } });
    }
    if (one && current && method === "PATCH") {
      const expected = /"v(\d+)"/.exec(call.headers.get("If-Match") ?? "")?.[1];
      if (Number(expected) !== current.version) {
        return problem(412, {
          title: "Precondition failed",
          detail: `at version ${current.version}`,
          current_version: current.version,
        });
      }
      const patch = JSON.parse(call.body) as Record<string, unknown>;
      if (patch.name === null || patch.name === "") {
        return problem(422, {
          title: "Validation failed",
          detail: "1 problem",
          errors: [{ path: "/name", code: "required", message: "Name is required" }],
        });
      }
      const saved = { ...current, ...patch, version: current.version + 1 };
      store.set(id, saved);
      return json(saved, { headers: { ETag: `"v${saved.version}"` } });
    }
    return undefined;
  });
  return { ...server, store };
}
