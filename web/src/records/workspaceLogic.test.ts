import { describe, expect, it } from "vitest";
import type { ObjectDefinition } from "../api/types";
import { account, accountRecord, field } from "../test/fixtures";
import { boardColumns, groupingField } from "./board";
import { activeFilters, filterableFields, operatorsFor } from "./filters";
import { highlightPieces } from "./highlight";

const deals: ObjectDefinition = {
  ...account,
  name: "opportunity",
  title_field: "name",
  fields: [
    field({ name: "name", type: "text" }),
    field({ name: "kind", type: "enum", options: [{ value: "new", label: "New", label_zh: null }] }),
    field({
      name: "stage",
      type: "enum",
      options: [
        { value: "prospecting", label: "Prospecting", label_zh: null },
        { value: "proposal", label: "Proposal", label_zh: null },
      ],
    }),
    field({ name: "closes", type: "datetime" }),
  ],
};

describe("search snippets", () => {
  it("split text at the highlights, in characters, tolerating bad offsets", () => {
    expect(highlightPieces("上海市第一人民医院 hospital", [[0, 2], [10, 18]])).toEqual([
      { text: "上海", marked: true },
      { text: "市第一人民医院 ", marked: false },
      { text: "hospital", marked: true },
    ]);
    expect(highlightPieces("abc", [[2, 9], [1, 2], [1, 2], [5, 4]])).toEqual([
      { text: "a", marked: false },
      { text: "b", marked: true },
      { text: "c", marked: true },
    ]);
    expect(highlightPieces("<b>x</b>", [])).toEqual([{ text: "<b>x</b>", marked: false }]);
  });
});

describe("list filters", () => {
  it("offer operators by field type and never customer-authorized fields", () => {
    const by = (name: string) => {
      const found = account.fields.find((f) => f.name === name);
      if (!found) throw new Error(name);
      return found;
    };
    expect(operatorsFor(by("name"))).toEqual(["contains", "eq", "starts_with"]);
    expect(operatorsFor(by("tier"))).toEqual(["eq", "ne"]);
    expect(operatorsFor(by("employees"))).toEqual(["gte", "lte", "eq"]);
    expect(filterableFields(account, null).map((f) => f.name)).not.toContain("email");
  });

  it("send only filters with a value, a datetime's day widened to the whole day", () => {
    expect(
      activeFilters(deals, [
        { field: "name", operator: "contains", value: " acme " },
        { field: "kind", operator: "eq", value: "" },
        { field: "closes", operator: "gte", value: "2026-01-01" },
        { field: "closes", operator: "lte", value: "2026-01-31" },
      ]),
    ).toEqual([
      { field: "name", operator: "contains", value: "acme" },
      { field: "closes", operator: "gte", value: "2026-01-01T00:00:00Z" },
      { field: "closes", operator: "lte", value: "2026-01-31T23:59:59.999Z" },
    ]);
  });
});

describe("the board", () => {
  it("groups by stage unless told otherwise, one column per option", () => {
    expect(groupingField(deals, null)?.name).toBe("stage");
    expect(groupingField(deals, "kind")?.name).toBe("kind");
    expect(groupingField(deals, "closes")?.name).toBe("stage");
    const a = accountRecord({ id: "a", stage: "proposal" });
    const b = accountRecord({ id: "b", stage: "gone" });
    const stage = groupingField(deals, null);
    if (!stage) throw new Error("no grouping field");
    const columns = boardColumns(stage, [a, b], {});
    expect(columns.map((c) => [c.value, c.records.map((r) => r.id)])).toEqual([
      ["prospecting", []],
      ["proposal", ["a"]],
      ["", ["b"]],
    ]);
    // A move in flight shows the card where it is going.
    expect(boardColumns(stage, [a], { a: "prospecting" })[0]?.records).toHaveLength(1);
  });
});
