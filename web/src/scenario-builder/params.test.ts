import { describe, expect, it } from "vitest";
import { insertField, parseValue, valueText } from "./params";

describe("parameter values in the form", () => {
  it("shows text as typed and the rest as YAML flow", () => {
    expect(valueText("Fault {{ event.data.code }}")).toBe("Fault {{ event.data.code }}");
    expect(valueText(3)).toBe("3");
    expect(valueText({ cel: "asset.id" })).toBe("{ cel: asset.id }");
    expect(valueText(["a", "b"])).toBe("[ a, b ]");
    expect(valueText(undefined)).toBe("");
  });

  it("reads values back by kind", () => {
    expect(parseValue("12", "number")).toBe(12);
    expect(parseValue("12", "text")).toBe("12");
    expect(parseValue("true", "boolean")).toBe(true);
    expect(parseValue("{ cel: asset.id }", "text")).toEqual({ cel: "asset.id" });
    expect(parseValue("{kind: work_order}", "object")).toEqual({ kind: "work_order" });
    expect(parseValue("  ", "text")).toBeUndefined();
    expect(parseValue("{ broken", "object")).toBe("{ broken");
  });

  it("inserts a field as a template into text, as a computed value otherwise", () => {
    expect(insertField("Fault", "event.data.code", "text")).toBe("Fault {{ event.data.code }}");
    expect(insertField(undefined, "event.data.code", "text")).toBe("{{ event.data.code }}");
    expect(insertField(undefined, "windows.faults", "number")).toEqual({ cel: "windows.faults" });
  });
});
