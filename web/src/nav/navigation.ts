/**
 * Role-aware navigation: which areas of the console a signed-in user sees, from
 * GET /api/v1/auth/me (roles and per-object permissions). The server enforces every rule
 * again; this only keeps people from being shown doors they cannot open.
 */
import type { Me } from "../api/types";

export type Area =
  | "records"
  | "scenarios"
  | "operations"
  | "agents"
  | "tasks"
  | "graph"
  | "import"
  | "design"
  | "governance";

/** Display order of the navigation, with where each area opens. */
export const AREAS: readonly { area: Area; to: string }[] = [
  { area: "records", to: "/records" },
  { area: "scenarios", to: "/scenarios" },
  { area: "operations", to: "/operations" },
  { area: "agents", to: "/agents" },
  { area: "tasks", to: "/tasks" },
  { area: "graph", to: "/graph" },
  { area: "import", to: "/import" },
  { area: "design", to: "/design/objects" },
  { area: "governance", to: "/governance" },
];

export interface NavItem {
  area: Area;
  to: string;
  labelKey: `nav.${Area}`;
}

/** Who may build scenarios (api/scenarios.py AUTHORS). */
export const SCENARIO_AUTHORS: readonly string[] = ["admin", "sales", "service"];

/** Who may watch scenario health, run history and dead letters. */
export const OPERATORS: readonly string[] = ["admin", "sales", "service", "compliance", "integration"];

/** Who may see agents and their runs (api/agents.py AUTHORS and AUDITORS). */
export const AGENT_READERS: readonly string[] = ["admin", "compliance"];

/** Who sees the governance area (KPIs, ledger); user administrators see it too. */
export const GOVERNANCE_ROLES: readonly string[] = ["admin", "compliance"];

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
    case "operations":
      return me.roles.some((role) => OPERATORS.includes(role));
    case "agents":
      return me.roles.some((role) => AGENT_READERS.includes(role));
    case "tasks":
      return true;
    case "graph":
      return canRead(me, "account") || canRead(me, "contact");
    case "import":
      return Object.values(me.permissions).some((p) => p.actions.includes("create"));
    case "design":
      return me.manage_metadata;
    case "governance":
      return me.roles.some((role) => GOVERNANCE_ROLES.includes(role)) || me.manage_users;
  }
}

/** The navigation links for this user, in display order. */
export function navItems(me: Me): NavItem[] {
  const items: NavItem[] = [];
  for (const { area, to } of AREAS) {
    if (!mayUse(me, area)) continue;
    if (area === "records") {
      const object = defaultObject(me);
      if (object === null) continue;
      items.push({ area, to: `/records/${object}`, labelKey: "nav.records" });
    } else {
      items.push({ area, to, labelKey: `nav.${area}` });
    }
  }
  return items;
}

/** Where to go after signing in (or from "/"): the first area the user may use. */
export function homePath(me: Me): string {
  return navItems(me)[0]?.to ?? "/records";
}
