import { describe, expect, it } from "vitest";
import type { ObjectDefinition } from "../api/types";
import { account, accountRecord, analyst, contact, field } from "../test/fixtures";
import { canSortBy, cellOf, defaultColumns, orderColumns, titleFilter, withheldFields } from "./fields";

describe("columns", () => {
  it("start with the title field, then the readable fields in order, 6 in all", () => {
    const people: ObjectDefinition = {
      ...contact,
      fields: [
        field({ name: "first_name", type: "text" }),
        field({ name: "last_name", type: "text" }),
        ...contact.fields,
        field({ name: "a", type: "text" }),
        field({ name: "b", type: "text" }),
      ],
    };
    expect(defaultColumns(people, null)).toEqual([
      "full_name",
      "first_name",
      "last_name",
      "email",
      "a",
      "b",
    ]);
    expect(orderColumns(people, ["b", "first_name", "full_name"])).toEqual([
      "full_name",
      "first_name",
      "b",
    ]);
  });

  it("leave out what the role hides", () => {
    expect(defaultColumns(account, analyst.permissions.account ?? null)).not.toContain("phone");
  });
});

describe("sorting and filtering", () => {
  it("refuse customer-authorized, list and JSON fields", () => {
    const by = (name: string) => {
      const found = account.fields.find((f) => f.name === name);
      if (!found) throw new Error(name);
      return found;
    };
    expect(canSortBy(by("name"))).toBe(true);
    expect(canSortBy(by("email"))).toBe(false);
    expect(canSortBy(field({ name: "tags", type: "multi_enum" }))).toBe(false);
    expect(canSortBy(field({ name: "x", type: "json" }))).toBe(false);
    expect(canSortBy(field({ name: "r", type: "relation", target: "a", cardinality: "many" }))).toBe(false);
  });

  it("filter text titles with contains, others by equality, customer data not at all", () => {
    expect(titleFilter(account, null)?.operator).toBe("contains");
    const numbered = { ...account, title_field: "employees" };
    expect(titleFilter(numbered, null)).toMatchObject({ operator: null });
    expect(titleFilter({ ...account, title_field: "email" }, null)).toBeNull();
    expect(titleFilter({ ...account, title_field: null }, null)).toBeNull();
  });
});

describe("cells", () => {
  it("say why a value is missing", () => {
    const record = accountRecord();
    delete record.phone;
    const withheld = withheldFields(record);
    expect(cellOf(record, "email", withheld)).toEqual({
      kind: "withheld",
      withheld: {
        reason: "no-consent",
        detail: "the customer has not consented to account.email for marketing",
      },
    });
    expect(cellOf(record, "phone", withheld)).toEqual({
      kind: "withheld",
      withheld: { reason: "no-permission", detail: null },
    });
    expect(cellOf(record, "notes", withheld)).toEqual({ kind: "value", value: null });
  });
});
