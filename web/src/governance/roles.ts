/**
 * The role editor's model: a role (GET /roles) as an editable draft, back to the permissions
 * PUT /roles/{name} takes, and the server's refusals placed at the grant they concern
 * (`/permissions/objects/<name>`, `/permissions/manage_users` …).
 */
import type { ObjectGrant, Role, RolePermissions } from "../api/governance";
import { parsePointer, type ApiProblem } from "../api/problem";

export const ACTIONS = ["read", "create", "update", "delete"] as const;
export type GrantAction = (typeof ACTIONS)[number];
export const SCOPES = ["own", "territory", "all"] as const;
export type GrantScope = (typeof SCOPES)[number];
export const EVERY_OBJECT = "*";
export const ROLE_NAME = /^[a-z][a-z0-9_]{0,63}$/;

export interface GrantDraft {
  object: string;
  actions: GrantAction[];
  scope: GrantScope;
  readAll: boolean;
  read: string[];
  writeAll: boolean;
  write: string[];
  hidden: string[];
}

export interface RoleDraft {
  name: string;
  description: string;
  manageMetadata: boolean;
  manageUsers: boolean;
  grants: GrantDraft[];
}

/** "*" first, then by object name. */
export function sortGrants(grants: GrantDraft[]): GrantDraft[] {
  return [...grants].sort((a, b) =>
    a.object === EVERY_OBJECT ? -1 : b.object === EVERY_OBJECT ? 1 : a.object.localeCompare(b.object),
  );
}

export function grantDraft(object: string, grant?: ObjectGrant): GrantDraft {
  return {
    object,
    actions: ACTIONS.filter((a) => grant?.actions.includes(a) ?? a === "read"),
    scope: grant?.scope ?? "all",
    readAll: grant ? grant.read_fields === "*" : true,
    read: grant && grant.read_fields !== "*" ? [...grant.read_fields] : [],
    writeAll: grant ? grant.write_fields === "*" : true,
    write: grant && grant.write_fields !== "*" ? [...grant.write_fields] : [],
    hidden: grant ? [...grant.hidden_fields] : [],
  };
}

export function roleDraft(role: Role): RoleDraft {
  return {
    name: role.name,
    description: role.description,
    manageMetadata: role.permissions.manage_metadata,
    manageUsers: role.permissions.manage_users,
    grants: sortGrants(Object.entries(role.permissions.objects).map(([name, grant]) => grantDraft(name, grant))),
  };
}

export function emptyRole(name: string): RoleDraft {
  return { name, description: "", manageMetadata: false, manageUsers: false, grants: [] };
}

export function toPermissions(draft: RoleDraft): RolePermissions {
  const objects: Record<string, ObjectGrant> = {};
  for (const grant of draft.grants) {
    objects[grant.object] = {
      actions: ACTIONS.filter((a) => grant.actions.includes(a)),
      scope: grant.scope,
      read_fields: grant.readAll ? "*" : [...grant.read].sort(),
      write_fields: grant.writeAll ? "*" : [...grant.write].sort(),
      hidden_fields: [...grant.hidden].sort(),
    };
  }
  return { objects, manage_metadata: draft.manageMetadata, manage_users: draft.manageUsers };
}

export interface RoleErrors {
  /** Per object name of a grant ("*" included). */
  grants: Record<string, string[]>;
  manageUsers: string[];
  manageMetadata: string[];
  general: string[];
}

/** Place each of a refusal's errors at what it concerns; the rest (and the detail) is general. */
export function roleErrors(problem: ApiProblem): RoleErrors {
  const placed: RoleErrors = { grants: {}, manageUsers: [], manageMetadata: [], general: [] };
  for (const error of problem.errors) {
    const [head, part, name] = parsePointer(error.path);
    if (head === "permissions" && part === "objects" && name !== undefined) {
      (placed.grants[name] ??= []).push(error.message);
    } else if (head === "permissions" && part === "manage_users") {
      placed.manageUsers.push(error.message);
    } else if (head === "permissions" && part === "manage_metadata") {
      placed.manageMetadata.push(error.message);
    } else {
      placed.general.push(error.path ? `${error.path}: ${error.message}` : error.message);
    }
  }
  placed.general.unshift(problem.detail || problem.title);
  return placed;
}

/** Toggle `value` in a list. */
export function toggled<T>(list: readonly T[], value: T, on: boolean): T[] {
  return on ? (list.includes(value) ? [...list] : [...list, value]) : list.filter((item) => item !== value);
}
