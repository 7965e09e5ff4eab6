import { describe, expect, it } from "vitest";
import {
  ApiProblem,
  fieldErrorsFrom,
  networkProblem,
  NETWORK_ERROR,
  parsePointer,
  parseRetryAfter,
  problemFromResponse,
} from "./problem";

function validation(errors: { path: string; code: string; message: string }[]) {
  return new ApiProblem({
    type: "https://kindred.dev/problems/validation-failed",
    title: "Validation failed",
    status: 422,
    detail: `${errors.length} problems`,
    errors,
  });
}

describe("problemFromResponse", () => {
  it("keeps the problem+json members and the extensions the UI uses", () => {
    const response = new Response(null, { status: 412, headers: { "Retry-After": "7" } });
    const problem = problemFromResponse(response, {
      type: "https://kindred.dev/problems/precondition-failed",
      title: "Precondition failed",
      status: 412,
      detail: "account x is at version 4, not 3",
      current_version: 4,
      request_id: "req-1",
      errors: [{ path: "/name", code: "required", message: "name is required" }, { bogus: true }],
    });
    expect(problem).toBeInstanceOf(ApiProblem);
    expect(problem.status).toBe(412);
    expect(problem.kind).toBe("precondition-failed");
    expect(problem.currentVersion).toBe(4);
    expect(problem.requestId).toBe("req-1");
    expect(problem.retryAfter).toBe(7);
    // Malformed entries are dropped, not shown as "undefined".
    expect(problem.errors).toEqual([{ path: "/name", code: "required", message: "name is required" }]);
  });

  it("reads retry_after from the body when the header is missing", () => {
    const problem = problemFromResponse(new Response(null, { status: 429 }), {
      type: "t",
      title: "Too many requests",
      status: 429,
      detail: "wait",
      retry_after: 42,
    });
    expect(problem.retryAfter).toBe(42);
  });

  it("makes a problem of a non-problem answer (a proxy's HTML page)", () => {
    const response = new Response(null, { status: 502, statusText: "Bad Gateway" });
    const problem = problemFromResponse(response, "<html>oops</html>");
    expect(problem.status).toBe(502);
    expect(problem.title).toBe("Bad Gateway");
    expect(problem.type).toBe("about:blank");
  });

  it("marks network failures", () => {
    const problem = networkProblem(new TypeError("Failed to fetch"));
    expect(problem.type).toBe(NETWORK_ERROR);
    expect(problem.status).toBe(0);
  });
});

describe("parseRetryAfter", () => {
  it("reads seconds and HTTP dates", () => {
    expect(parseRetryAfter("120")).toBe(120);
    expect(parseRetryAfter(null)).toBeNull();
    expect(parseRetryAfter("soon")).toBeNull();
    const now = Date.parse("2026-01-01T00:00:00Z");
    expect(parseRetryAfter("Thu, 01 Jan 2026 00:00:30 GMT", now)).toBe(30);
  });
});

describe("parsePointer", () => {
  it("follows RFC 6901", () => {
    expect(parsePointer("")).toEqual([]);
    expect(parsePointer("/name")).toEqual(["name"]);
    expect(parsePointer("/tags/0")).toEqual(["tags", "0"]);
    expect(parsePointer("/a~1b/c~0d")).toEqual(["a/b", "c~d"]);
  });
});

describe("fieldErrorsFrom: a problem's messages, placed", () => {
  const fields = ["name", "employees", "tags"];

  it("puts each errors[] entry next to the field its JSON Pointer names", () => {
    const result = fieldErrorsFrom(
      validation([
        { path: "/name", code: "required", message: "name is required" },
        { path: "/employees", code: "minimum", message: "must be at least 0" },
        { path: "/employees", code: "type", message: "expected a number" },
        { path: "/tags/1", code: "enum", message: "'x' is not one of ['a']" },
      ]),
      fields,
    );
    expect(result.byField).toEqual({
      name: ["name is required"],
      employees: ["must be at least 0", "expected a number"],
      tags: ["'x' is not one of ['a']"],
    });
    expect(result.general).toEqual([]);
  });

  it("sends the record-wide rule, query paths and unknown fields to the top", () => {
    const result = fieldErrorsFrom(
      validation([
        { path: "", code: "rule", message: "a closed deal needs an amount" },
        { path: "/query/sort", code: "not_sortable", message: "'tags' holds a list" },
        { path: "/owner", code: "forbidden", message: "you may not write owner" },
      ]),
      fields,
    );
    expect(result.byField).toEqual({});
    expect(result.general).toEqual([
      "a closed deal needs an amount",
      "query: 'tags' holds a list",
      "owner: you may not write owner",
    ]);
  });

  it("falls back to the detail when there is no errors[] at all", () => {
    const problem = new ApiProblem({
      type: "https://kindred.dev/problems/permission-denied",
      title: "Permission denied",
      status: 403,
      detail: "you may not update account",
    });
    expect(fieldErrorsFrom(problem, fields)).toEqual({
      byField: {},
      general: ["you may not update account"],
    });
  });
});
