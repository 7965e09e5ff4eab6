import { describe, expect, it } from "vitest";
import type { Role } from "../api/governance";
import { ApiProblem } from "../api/problem";
import { grantDraft, roleDraft, roleErrors, toPermissions } from "./roles";

const service: Role = {
  name: "service",
  description: "Service engineers",
  builtin: true,
  permissions: {
    manage_metadata: false,
    manage_users: false,
    objects: {
      ticket: { actions: ["read", "create", "update"], scope: "territory", read_fields: "*", write_fields: "*", hidden_fields: [] },
      "*": { actions: ["read"], scope: "territory", read_fields: "*", write_fields: "*", hidden_fields: [] },
      contract: { actions: ["read"], scope: "territory", read_fields: ["name", "value"], write_fields: [], hidden_fields: ["value"] },
    },
  },
};

describe("the role editor's model", () => {
  it("round-trips a role's permissions, the every-object grant first", () => {
    const draft = roleDraft(service);
    expect(draft.grants.map((g) => g.object)).toEqual(["*", "contract", "ticket"]);
    expect(draft.grants[1]).toMatchObject({ readAll: false, read: ["name", "value"], writeAll: false, hidden: ["value"] });
    expect(toPermissions(draft)).toEqual(service.permissions);
  });

  it("starts a new grant with read on every record and field", () => {
    expect(toPermissions({ name: "x", description: "", manageMetadata: false, manageUsers: true, grants: [grantDraft("lead")] }))
      .toEqual({
        manage_metadata: false,
        manage_users: true,
        objects: { lead: { actions: ["read"], scope: "all", read_fields: "*", write_fields: "*", hidden_fields: [] } },
      });
  });

  it("places an escalation refusal at the grants and rights it concerns", () => {
    const problem = new ApiProblem({
      type: "https://kindred.dev/problems/permission-denied",
      title: "Permission denied",
      status: 403,
      detail: "this role would grant rights you do not have",
      errors: [
        { path: "/permissions/objects/account", code: "exceeds_your_rights", message: "you may not grant account: update" },
        { path: "/permissions/objects/*", code: "exceeds_your_rights", message: "you may not grant lead: read" },
        { path: "/permissions/manage_metadata", code: "exceeds_your_rights", message: "you may not grant manage metadata" },
        { path: "/name", code: "pattern", message: "use [a-z][a-z0-9_]*" },
      ],
    });
    const placed = roleErrors(problem);
    expect(placed.grants).toEqual({ account: ["you may not grant account: update"], "*": ["you may not grant lead: read"] });
    expect(placed.manageMetadata).toEqual(["you may not grant manage metadata"]);
    expect(placed.general).toEqual(["this role would grant rights you do not have", "/name: use [a-z][a-z0-9_]*"]);
  });
});
