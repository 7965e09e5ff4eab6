import { describe, expect, it } from "vitest";
import { admin, analyst } from "../test/fixtures";
import type { Me } from "../api/types";
import {
  compareRecords,
  effectOf,
  explanationOf,
  mayMerge,
  mayUndo,
  mergeRequest,
  pairKey,
} from "./resolution";
import { DUP_A, DUP_B, contactDef, duplicatePair } from "./testData";

const feature = (contribution: number, similarity: number | null, conflict = false) => ({
  feature: "name",
  weight: 5,
  similarity,
  contribution,
  explanation: "",
  conflict,
});

const sales: Me = {
  ...analyst,
  roles: ["sales"],
  permissions: {
    contact: { actions: ["create", "read", "update"], scope: "territory", hidden_fields: [], read_fields: "*", write_fields: "*" },
  },
};

describe("merge review", () => {
  it("says what each feature does to the score", () => {
    expect(effectOf(feature(5, 1))).toBe("for");
    expect(effectOf(feature(-1, 0))).toBe("against");
    expect(effectOf(feature(-4, 0, true))).toBe("conflict");
    expect(effectOf(feature(0, 0))).toBe("neutral");
    expect(explanationOf(feature(5, 1))).toBe("same");
    expect(explanationOf(feature(2.4, 0.93))).toBe("similar");
    expect(explanationOf(feature(0, 0.4))).toBe("notCounted");
    expect(explanationOf(feature(-1, 0))).toBe("different");
    expect(explanationOf(feature(-14, 0, true))).toBe("conflict");
  });

  it("follows the API's rules: merge needs update+delete, undo create+update", () => {
    expect(mayMerge(admin, "contact")).toBe(true);
    expect(mayMerge(sales, "contact")).toBe(false);
    expect(mayMerge(analyst, "contact")).toBe(false);
    expect(mayMerge(admin, "lead")).toBe(false);
    expect(mayUndo(sales, "contact")).toBe(true);
    expect(mayUndo(analyst, "contact")).toBe(false);
  });

  it("compares the two records field by field, withheld values kept withheld", () => {
    const pair = duplicatePair();
    const [a, b] = pair.records;
    if (!a || !b) throw new Error("pair");
    const rows = compareRecords(contactDef, admin.permissions.contact ?? null, [a, b]);
    expect(rows.map((r) => [r.name, r.comparable, r.same, r.choosable])).toEqual([
      ["full_name", true, false, true],
      ["email", false, false, false], // withheld on both sides: not compared
      ["title", true, false, false], // one side empty: filled automatically, nothing to choose
      ["city", true, true, false],
      ["account", true, true, false],
    ]);
    expect(rows.find((r) => r.name === "email")?.cells.map((c) => c.kind)).toEqual(["withheld", "withheld"]);
  });

  it("lets no one choose a field they may not write", () => {
    const pair = duplicatePair();
    const [a, b] = pair.records;
    if (!a || !b) throw new Error("pair");
    const full = admin.permissions.contact;
    if (!full) throw new Error("admin reads contacts");
    const readOnly = { ...full, write_fields: ["title"] };
    const rows = compareRecords(contactDef, readOnly, [a, b]);
    expect(rows.find((r) => r.name === "full_name")?.choosable).toBe(false);
  });

  it("builds the merge request from the survivor and the fields taken from the other", () => {
    const pair = duplicatePair();
    const [a, b] = pair.records;
    if (!a || !b) throw new Error("pair");
    const rows = compareRecords(contactDef, admin.permissions.contact ?? null, [a, b]);
    expect(mergeRequest(pair, "contact", 1, new Set(["full_name", "city", "nope"]), rows)).toEqual({
      object: "contact",
      survivor: DUP_B,
      duplicate: DUP_A,
      take_from_duplicate: ["full_name"],
      survivor_version: 1,
      duplicate_version: 1,
    });
    expect(mergeRequest(pair, "contact", 0, new Set(), rows).survivor).toBe(DUP_A);
    expect(pairKey(pair)).toBe(`${DUP_A}+${DUP_B}`);
  });
});
