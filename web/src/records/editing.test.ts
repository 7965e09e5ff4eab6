import { describe, expect, it } from "vitest";
import { account, accountRecord, admin, analyst } from "../test/fixtures";
import {
  buildCreate,
  buildPatch,
  changedFields,
  creatableFields,
  draftOf,
  editableFields,
  fromInput,
  mayWriteField,
  reconcile,
  toInput,
} from "./editing";

const record = accountRecord();
const fields = editableFields(account.fields, admin.permissions.account ?? null, record);
const byName = (name: string) => {
  const found = account.fields.find((f) => f.name === name);
  if (!found) throw new Error(name);
  return found;
};

describe("which fields the form edits", () => {
  it("leaves out withheld values, to-many relations and users without update", () => {
    expect(fields.map((f) => f.name)).toEqual([
      "name",
      "tier",
      "employees",
      "active",
      "founded",
      "phone",
      "parent_account",
      "notes",
    ]);
    expect(editableFields(account.fields, analyst.permissions.account ?? null, record)).toEqual([]);
  });
});

describe("input values", () => {
  it("round-trips each type, empty meaning null", () => {
    expect(toInput(byName("employees"), 120)).toBe("120");
    expect(fromInput(byName("employees"), "121")).toBe(121);
    expect(fromInput(byName("employees"), "")).toBeNull();
    expect(fromInput(byName("employees"), "12x")).toBe("12x"); // the server explains it
    expect(toInput(byName("active"), null)).toBe(false);
    expect(fromInput(byName("active"), true)).toBe(true);
    expect(fromInput(byName("tier"), "")).toBeNull();
    expect(fromInput(byName("name"), "  ")).toBeNull();
  });
});

describe("the PATCH body", () => {
  it("holds only what changed", () => {
    const draft = { ...draftOf(fields, record), name: "Acme Clinic", employees: "" };
    expect(changedFields(fields, record, draft)).toEqual(["name", "employees"]);
    expect(buildPatch(fields, record, draft)).toEqual({ name: "Acme Clinic", employees: null });
  });

  it("is empty when nothing changed (an untouched unset checkbox is no change)", () => {
    const base = accountRecord({ active: null });
    expect(buildPatch(fields, base, draftOf(fields, base))).toEqual({});
  });
});

describe("after a 412: their version loaded, nothing typed lost", () => {
  const base = accountRecord({ version: 3 });
  const theirs = accountRecord({
    version: 4,
    name: "Acme General Hospital", // they changed it; so did I
    employees: 150, // they changed it; I did not
    phone: "+86 21 5555 0199", // both changed to the same value
  });
  const typed = {
    ...draftOf(fields, base),
    name: "Acme Hospital (East)",
    notes: "met on Monday", // only I changed it
    phone: "+86 21 5555 0199",
  };
  const { draft, conflicts } = reconcile(fields, base, theirs, typed);

  it("keeps every value the user typed", () => {
    expect(draft.name).toBe("Acme Hospital (East)");
    expect(draft.notes).toBe("met on Monday");
    expect(draft.phone).toBe("+86 21 5555 0199");
  });

  it("takes their value where the user typed nothing", () => {
    expect(draft.employees).toBe("150");
    expect(draft.tier).toBe("a");
  });

  it("reports a conflict only where both changed a field differently", () => {
    expect(conflicts).toEqual({ name: "Acme General Hospital" });
  });

  it("saves the user's changes against their version next", () => {
    expect(buildPatch(fields, theirs, draft)).toEqual({
      name: "Acme Hospital (East)",
      notes: "met on Monday",
    });
  });
});

describe("per-field write rules and the create form", () => {
  it("edit only the fields /auth/me lets the user write", () => {
    const permission = {
      actions: ["read" as const, "update" as const, "create" as const],
      scope: "all" as const,
      hidden_fields: ["phone"],
      read_fields: "*" as const,
      write_fields: ["notes", "phone", "tier"],
    };
    expect(mayWriteField(permission, "notes")).toBe(true);
    expect(mayWriteField(permission, "phone")).toBe(false); // hidden wins
    expect(mayWriteField(permission, "name")).toBe(false);
    expect(editableFields(account.fields, permission, record).map((f) => f.name)).toEqual([
      "tier",
      "notes",
    ]);
    expect(creatableFields(account.fields, permission).map((f) => f.name)).toEqual(["tier", "notes"]);
    expect(creatableFields(account.fields, { ...permission, actions: ["read"] })).toEqual([]);
  });

  it("sends what was filled in, JSON parsed, relations as ids", () => {
    const json = { ...byName("notes"), name: "extra", type: "json" as const };
    const parent = byName("parent_account");
    expect(toInput(json, { a: 1 })).toBe('{\n  "a": 1\n}');
    expect(fromInput(json, '{"a": 2}')).toEqual({ a: 2 });
    expect(fromInput(json, "{oops")).toBe("{oops"); // the server says what is wrong
    expect(
      buildCreate([byName("name"), byName("tier"), byName("active"), parent, json], {
        name: "Ruijin",
        tier: "",
        active: false,
        parent_account: "acc-1",
        extra: "",
      }),
    ).toEqual({ name: "Ruijin", parent_account: "acc-1" });
  });
});
