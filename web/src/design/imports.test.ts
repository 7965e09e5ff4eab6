import { describe, expect, it } from "vitest";
import { EMPTY, choiceOf, fileProblem, mappingErrors, mappingFrom, percent, remap } from "./imports";

describe("import wizard logic", () => {
  it("refuses empty, oversized and spreadsheet files before sending them", () => {
    expect(fileProblem({ name: "a.csv", size: 0 })).toBe("empty");
    expect(fileProblem({ name: "a.csv", size: 6 * 1024 * 1024 })).toBe("tooBig");
    expect(fileProblem({ name: "contacts.XLSX", size: 10 })).toBe("notCsv");
    expect(fileProblem({ name: "contacts.csv", size: 10 })).toBeNull();
    expect(fileProblem({ name: "export", size: 10 })).toBeNull(); // the server decides
  });

  it("sends the preset, else the object, and the mapping only once the user edited it", () => {
    expect(choiceOf({ ...EMPTY, preset: "hubspot-contacts", object: "contact" })).toEqual({
      mode: "skip_bad_rows",
      preset: "hubspot-contacts",
    });
    expect(choiceOf({ ...EMPTY, object: "account", mapping: { Name: "name" }, mode: "all_or_nothing" })).toEqual({
      mode: "all_or_nothing",
      object: "account",
      mapping: { Name: "name" },
    });
  });

  it("keeps one column per field when remapping", () => {
    const mapping = mappingFrom([
      { column: "Email", field: "email", suggested: "email", source: "preset" },
      { column: "Work email", field: null, suggested: null, source: null },
      { column: "City", field: "city", suggested: "city", source: "preset" },
    ]);
    expect(mapping).toEqual({ Email: "email", "Work email": "", City: "city" });
    expect(remap(mapping, "Work email", "email")).toEqual({ Email: "", "Work email": "email", City: "city" });
    expect(remap(mapping, "City", "")).toEqual({ Email: "email", "Work email": "", City: "" });
  });

  it("rounds progress down and never passes 100", () => {
    expect(percent(0, 5)).toBe(0);
    expect(percent(3, 5)).toBe(60);
    expect(percent(2, 3)).toBe(66);
    expect(percent(7, 5)).toBe(100);
    expect(percent(0, 0)).toBe(0);
    expect(percent(1, 0)).toBe(100);
  });

  it("places mapping errors at their column, slashes in column names included", () => {
    expect(
      mappingErrors([
        { path: "/mapping/State/Region", message: "no field" },
        { path: "/mapping/Email", message: "not writable" },
        { path: "/object", message: "choose" },
      ]),
    ).toEqual({ "State/Region": ["no field"], Email: ["not writable"] });
  });
});
