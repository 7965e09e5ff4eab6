import { describe, expect, it } from "vitest";
import type { Me } from "../api/types";
import { defaultObject, homePath, mayUse, navItems } from "./navigation";

function me(roles: string[], permissions: Me["permissions"]): Me {
  return { id: "u", name: "U", roles, territories: [], via: "token", permissions };
}

const read = { actions: ["read" as const], scope: "all" as const, hidden_fields: [] };

describe("role-aware navigation", () => {
  it("shows Records and Scenarios to an admin, Records opening on accounts", () => {
    const user = me(["admin"], { account: read, contact: read });
    expect(navItems(user)).toEqual([
      { area: "records", to: "/records/account", labelKey: "nav.records" },
      { area: "scenarios", to: "/scenarios", labelKey: "nav.scenarios" },
    ]);
    expect(homePath(user)).toBe("/records/account");
  });

  it("lets sales and service build scenarios, not analysts or compliance", () => {
    for (const role of ["sales", "service"]) {
      expect(mayUse(me([role], { account: read }), "scenarios")).toBe(true);
    }
    for (const role of ["analyst", "compliance", "integration"]) {
      expect(mayUse(me([role], { account: read }), "scenarios")).toBe(false);
    }
    expect(navItems(me(["analyst"], { account: read })).map((i) => i.area)).toEqual(["records"]);
  });

  it("opens Records on the first readable object when accounts are not readable", () => {
    const user = me(["service"], { ticket: read, asset: read });
    expect(defaultObject(user)).toBe("asset");
    expect(navItems(user)[0]?.to).toBe("/records/asset");
  });

  it("hides Records when no object may be read (create-only grants do not count)", () => {
    const user = me(["custom"], {
      lead: { actions: ["create"], scope: "own", hidden_fields: [] },
    });
    expect(mayUse(user, "records")).toBe(false);
    expect(navItems(user)).toEqual([]);
    expect(homePath(user)).toBe("/records");
  });

  it("combines roles: any role granting an area shows it", () => {
    const user = me(["analyst", "service"], { account: read });
    expect(navItems(user).map((i) => i.area)).toEqual(["records", "scenarios"]);
  });
});
