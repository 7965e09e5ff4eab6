/**
 * Who may use which governance view, mirroring the server's rules (which it enforces again):
 * the KPIs and the ledger are for the admin and compliance roles (api/sovereignty.py
 * RIGHTS_OFFICERS, api/ledger.py AUDITORS); roles are read by them and edited by user
 * administrators (manage_users); the user list is for user administrators; everyone in the
 * area manages their own API keys.
 */
import type { Me } from "../api/types";

export const AUDITOR_ROLES: readonly string[] = ["admin", "compliance"];

export type Section = "overview" | "ledger" | "roles" | "users";

export const SECTIONS: readonly { section: Section; to: string }[] = [
  { section: "overview", to: "/governance" },
  { section: "ledger", to: "/governance/ledger" },
  { section: "roles", to: "/governance/roles" },
  { section: "users", to: "/governance/users" },
];

export function isAuditor(me: Me): boolean {
  return me.roles.some((role) => AUDITOR_ROLES.includes(role));
}

export function mayOpen(me: Me, section: Section): boolean {
  switch (section) {
    case "overview":
    case "ledger":
      return isAuditor(me);
    case "roles":
    case "users":
      return isAuditor(me) || me.manage_users;
  }
}

export function openSections(me: Me): Section[] {
  return SECTIONS.filter(({ section }) => mayOpen(me, section)).map(({ section }) => section);
}
