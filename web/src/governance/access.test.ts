import { describe, expect, it } from "vitest";
import type { Me } from "../api/types";
import { mayOpen, openSections } from "./access";

const person = (roles: string[], manageUsers = false): Me => ({
  id: "u",
  name: "U",
  roles,
  territories: [],
  via: "token",
  permissions: {},
  manage_metadata: false,
  manage_users: manageUsers,
});

describe("governance sections", () => {
  it("opens every section to admins and compliance officers", () => {
    expect(openSections(person(["admin"], true))).toEqual(["overview", "ledger", "roles", "users"]);
    expect(openSections(person(["compliance"]))).toEqual(["overview", "ledger", "roles", "users"]);
  });

  it("opens roles and users, not the KPIs or the ledger, to a user administrator", () => {
    expect(openSections(person(["helpdesk"], true))).toEqual(["roles", "users"]);
  });

  it("opens nothing to a sales rep", () => {
    expect(openSections(person(["sales"]))).toEqual([]);
    expect(mayOpen(person(["sales", "analyst"]), "ledger")).toBe(false);
  });
});
