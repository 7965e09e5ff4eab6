import { describe, expect, it } from "vitest";
import type { Me } from "../api/types";
import { defaultObject, homePath, mayUse, navItems } from "./navigation";

function me(roles: string[], permissions: Me["permissions"], manage = false): Me {
  return {
    id: "u",
    name: "U",
    roles,
    territories: [],
    via: "token",
    permissions,
    manage_metadata: manage,
    manage_users: manage,
  };
}

const read = {
  actions: ["read" as const],
  scope: "all" as const,
  hidden_fields: [],
  read_fields: "*" as const,
  write_fields: [],
};
const write = { ...read, actions: ["create" as const, "read" as const, "update" as const] };

describe("role-aware navigation", () => {
  it("shows an admin every area, Records first and opening on accounts", () => {
    const user = me(["admin"], { account: write, contact: write }, true);
    expect(navItems(user).map((i) => i.area)).toEqual([
      "records",
      "scenarios",
      "operations",
      "agents",
      "tasks",
      "graph",
      "import",
      "design",
      "governance",
    ]);
    expect(navItems(user)[0]).toEqual({
      area: "records",
      to: "/records/account",
      labelKey: "nav.records",
    });
    expect(homePath(user)).toBe("/records/account");
  });

  it("lets sales and service build scenarios, not analysts or compliance", () => {
    for (const role of ["sales", "service"]) {
      expect(mayUse(me([role], { account: read }), "scenarios")).toBe(true);
    }
    for (const role of ["analyst", "compliance", "integration"]) {
      expect(mayUse(me([role], { account: read }), "scenarios")).toBe(false);
    }
  });

  it("gives a read-only analyst records, tasks and the graph only", () => {
    expect(navItems(me(["analyst"], { account: read })).map((i) => i.area)).toEqual([
      "records",
      "tasks",
      "graph",
    ]);
  });

  it("shows the designer only to metadata managers, governance to compliance and admins", () => {
    expect(mayUse(me(["sales"], { account: write }), "design")).toBe(false);
    expect(mayUse(me(["sales"], { account: write }), "governance")).toBe(false);
    expect(mayUse(me(["compliance"], { account: read }), "governance")).toBe(true);
    expect(mayUse(me(["custom"], { account: read }, true), "design")).toBe(true);
  });

  it("offers import only to who may create records", () => {
    expect(mayUse(me(["analyst"], { account: read }), "import")).toBe(false);
    expect(mayUse(me(["sales"], { account: write }), "import")).toBe(true);
  });

  it("opens Records on the first readable object when accounts are not readable", () => {
    const user = me(["service"], { ticket: read, asset: read });
    expect(defaultObject(user)).toBe("asset");
    expect(navItems(user)[0]?.to).toBe("/records/asset");
  });

  it("hides Records when no object may be read (create-only grants do not count)", () => {
    const user = me(["custom"], {
      lead: { ...read, actions: ["create"], scope: "own" },
    });
    expect(mayUse(user, "records")).toBe(false);
    expect(navItems(user).map((i) => i.area)).toEqual(["tasks", "import"]);
    expect(homePath(user)).toBe("/tasks");
  });

  it("combines roles: any role granting an area shows it", () => {
    const user = me(["analyst", "service"], { account: read });
    expect(navItems(user).map((i) => i.area)).toEqual([
      "records",
      "scenarios",
      "operations",
      "tasks",
      "graph",
    ]);
  });
});
