/**
 * Role-aware navigation: which areas of the console a signed-in user sees, from
 * GET /api/v1/auth/me (roles and per-object permissions). The server enforces every rule
 * again; this only keeps people from being shown doors they cannot open.
 */
import type { Me } from "../api/types";

export type Area = "records" | "scenarios";

export interface NavItem {
  area: Area;
  to: string;
  labelKey: `nav.${Area}`;
}

/** Who may build scenarios (api/scenarios.py AUTHORS). */
export const SCENARIO_AUTHORS: readonly string[] = ["admin", "sales", "service"];

/** The object the Records area opens on. */
export const PREFERRED_OBJECT = "account";

export function canRead(me: Me, objectName: string): boolean {
  return me.permissions[objectName]?.actions.includes("read") ?? false;
}

export function readableObjects(me: Me): string[] {
  return Object.keys(me.permissions)
    .filter((name) => canRead(me, name))
    .sort();
}

/** `account` when readable, else the first readable object by name, else null. */
export function defaultObject(me: Me): string | null {
  if (canRead(me, PREFERRED_OBJECT)) return PREFERRED_OBJECT;
  return readableObjects(me)[0] ?? null;
}

export function mayUse(me: Me, area: Area): boolean {
  switch (area) {
    case "records":
      return readableObjects(me).length > 0;
    case "scenarios":
      return me.roles.some((role) => SCENARIO_AUTHORS.includes(role));
  }
}

/** The navigation links for this user, in display order. */
export function navItems(me: Me): NavItem[] {
  const items: NavItem[] = [];
  const object = defaultObject(me);
  if (mayUse(me, "records") && object !== null) {
    items.push({ area: "records", to: `/records/${object}`, labelKey: "nav.records" });
  }
  if (mayUse(me, "scenarios")) {
    items.push({ area: "scenarios", to: "/scenarios", labelKey: "nav.scenarios" });
  }
  return items;
}

/** Where to go after signing in (or from "/"): the first area the user may use. */
export function homePath(me: Me): string {
  return navItems(me)[0]?.to ?? "/records";
}
