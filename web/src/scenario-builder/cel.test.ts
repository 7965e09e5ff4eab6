import { describe, expect, it } from "vitest";
import { celOf, complete, emptyRow, literal, parseCel, quote, type Group, type Row } from "./cel";

const row = (over: Partial<Row>): Row => ({ ...emptyRow(), ...over });
const all = (...items: Group["items"]): Group => ({ kind: "group", combinator: "all", items });
const any = (...items: Group["items"]): Group => ({ kind: "group", combinator: "any", items });

describe("CEL from condition rows", () => {
  it("quotes text and escapes quotes, backslashes and newlines", () => {
    expect(quote('say "hi"')).toBe('"say \\"hi\\""');
    expect(quote("C:\\tmp\nx")).toBe('"C:\\\\tmp\\nx"');
    expect(celOf(all(row({ field: "event.data.code", value: 'E"42' })))).toBe('event.data.code == "E\\"42"');
  });

  it("writes in-lists with each item quoted", () => {
    const severity = row({ field: "event.data.severity", operator: "in", values: ["major", "critical"] });
    expect(celOf(all(severity))).toBe('event.data.severity in ["major", "critical"]');
    expect(celOf(all({ ...severity, operator: "not_in" }))).toBe('!(event.data.severity in ["major", "critical"])');
  });

  it("writes numbers and booleans bare, and refuses what is not one", () => {
    expect(celOf(all(row({ field: "event.data.count", operator: ">=", value: "3", valueKind: "number" })))).toBe(
      "event.data.count >= 3",
    );
    expect(celOf(all(row({ field: "event.data.t", operator: "<", value: "-0.5", valueKind: "number" })))).toBe(
      "event.data.t < -0.5",
    );
    expect(literal("12a", "number")).toBeNull();
    expect(literal("yes", "boolean")).toBeNull();
    expect(celOf(all(row({ field: "event.data.ok", value: "true", valueKind: "boolean" })))).toBe("event.data.ok == true");
    expect(complete(row({ field: "event.data.count", value: "twelve", valueKind: "number" }))).toBe(false);
  });

  it("writes text operators and existence", () => {
    expect(celOf(all(row({ field: "event.data.text", operator: "contains", value: "CT" })))).toBe(
      'event.data.text.contains("CT")',
    );
    expect(celOf(all(row({ field: "event.data.code", operator: "starts_with", value: "E" })))).toBe(
      'event.data.code.startsWith("E")',
    );
    expect(celOf(all(row({ field: "event.data.code", operator: "exists" })))).toBe("has(event.data.code)");
    expect(celOf(all(row({ field: "event.data.code", operator: "not_exists" })))).toBe("!has(event.data.code)");
  });

  it("joins rows with && or ||, and brackets nested groups", () => {
    const a = row({ field: "asset.tier", value: "A" });
    const b = row({ field: "event.data.n", operator: ">", value: "2", valueKind: "number" });
    const c = row({ field: "event.data.code", operator: "exists" });
    expect(celOf(any(a, b))).toBe('asset.tier == "A" || event.data.n > 2');
    expect(celOf(all(any(a, b), c))).toBe('(asset.tier == "A" || event.data.n > 2) && has(event.data.code)');
    expect(celOf(all(all(a), c))).toBe('asset.tier == "A" && has(event.data.code)');
  });

  it("leaves out incomplete rows", () => {
    expect(celOf(all(row({ field: "" , value: "x" }), row({ field: "event.data.a", value: "1", valueKind: "number" })))).toBe(
      "event.data.a == 1",
    );
    expect(celOf(all(row({ field: "event.data.s", operator: "in", values: [] })))).toBe("");
  });
});

describe("CEL read back into rows", () => {
  const samples = [
    'event.data.severity in ["major", "critical"]',
    'event.data.code == "E\\"42"',
    "event.data.count >= 3 && event.data.ok == false",
    '(asset.tier == "A" || event.data.n > 2) && has(event.data.code)',
    '!(event.data.severity in ["minor"]) || !has(event.data.x)',
    'event.data.text.contains("CT") && event.data.code.startsWith("E")',
    "event.data.t < -0.5",
  ];

  it.each(samples)("round-trips %s", (source) => {
    const group = parseCel(source);
    expect(group).not.toBeNull();
    expect(celOf(group as Group)).toBe(source);
  });

  it("reads single quotes as text", () => {
    const group = parseCel("event.data.severity in ['major', 'critical']");
    expect(group?.items[0]).toMatchObject({ operator: "in", values: ["major", "critical"], valueKind: "text" });
  });

  it("gives null for CEL not in the form's shape", () => {
    expect(parseCel("size(event.data.items) > 2")).toBeNull();
    expect(parseCel("event.data.a + 1 == 2")).toBeNull();
    expect(parseCel('event.data.a == "open')).toBeNull();
    expect(parseCel("a in [1, 'x']")).toBeNull();
  });

  it("reads the empty condition as an empty group", () => {
    expect(parseCel("  ")).toEqual({ kind: "group", combinator: "all", items: [] });
  });
});
