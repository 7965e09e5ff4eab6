import { describe, expect, it } from "vitest";
import { field } from "../test/fixtures";
import {
  FIELD_TYPES,
  defaultValueOf,
  draftOfField,
  emptyField,
  fieldChanges,
  fieldPayload,
  nameFromLabel,
  placeErrors,
  ruleErrors,
  rulesPayload,
  settingsOf,
} from "./fields";

describe("field designer logic", () => {
  it("knows the 15 field types and the settings of each", () => {
    expect(FIELD_TYPES).toHaveLength(15);
    expect(settingsOf("enum").options).toBe(true);
    expect(settingsOf("relation")).toMatchObject({ target: true, defaultValue: false });
    expect(settingsOf("money").range).toBe(true);
    expect(settingsOf("boolean").unique).toBe(false);
    expect(settingsOf("json")).toMatchObject({ unique: false, indexed: false });
  });

  it("builds an enum field with Chinese option labels, dropping blank options", () => {
    const draft = {
      ...emptyField("enum"),
      name: " severity ",
      label: "Severity",
      label_zh: "严重程度",
      defaultValue: "minor",
      options: [
        { value: "minor", label: "Minor", label_zh: "轻微" },
        { value: " ", label: "", label_zh: "" },
        { value: "major", label: "", label_zh: "严重" },
      ],
    };
    expect(fieldPayload(draft)).toEqual({
      name: "severity",
      type: "enum",
      label: "Severity",
      label_zh: "严重程度",
      description: null,
      required: false,
      unique: false,
      indexed: false,
      default: "minor",
      options: [
        { value: "minor", label: "Minor", label_zh: "轻微" },
        { value: "major", label: null, label_zh: "严重" },
      ],
    });
  });

  it("turns defaults into the type's JSON and leaves what it cannot read to the server", () => {
    expect(defaultValueOf("number", "12.5")).toBe(12.5);
    expect(defaultValueOf("number", "twelve")).toBe("twelve");
    expect(defaultValueOf("boolean", "是")).toBe(true);
    expect(defaultValueOf("multi_enum", "a; b;")).toEqual(["a", "b"]);
    expect(defaultValueOf("json", '{"a": 1}')).toEqual({ a: 1 });
    expect(defaultValueOf("text", "  kept  ")).toBe("  kept  ");
    expect(defaultValueOf("date", "")).toBeNull();
  });

  it("edits only what may change and round-trips a relation", () => {
    const relation = field({ name: "site", type: "relation", target: "account", standard: false, required: true });
    const draft = draftOfField(relation);
    expect(draft).toMatchObject({ target: "account", cardinality: "one", required: true });
    const payload = fieldPayload(draft);
    expect(payload).toMatchObject({ target: "account", cardinality: "one", default: null });
    const changes = fieldChanges({ ...draft, label_zh: "站点" });
    expect(changes).not.toHaveProperty("name");
    expect(changes).not.toHaveProperty("target");
    expect(changes.label_zh).toBe("站点");
  });

  it("places errors at the input they concern", () => {
    const placed = placeErrors(
      [
        { path: "/name", code: "x", message: "bad name" },
        { path: "/default", code: "x", message: "bad default" },
        { path: "/options/1/value", code: "x", message: "duplicate" },
        { path: "/", code: "x", message: "a relation field needs a target object" },
      ],
      ["name", "defaultValue", "options"],
    );
    expect(placed.byInput).toEqual({ name: ["bad name"], defaultValue: ["bad default"], options: ["duplicate"] });
    expect(placed.general).toEqual(["a relation field needs a target object"]);
  });

  it("places a rule's CEL error at the rule with its offset", () => {
    const errors = ruleErrors([
      { path: "/validation_rules/1/expression", code: "invalid_cel", message: "undeclared reference", offset: 7 },
      { path: "/validation_rules/0/name", code: "string_pattern_mismatch", message: "bad name" },
      { path: "/label", code: "x", message: "not a rule" },
    ]);
    expect(errors).toEqual({
      0: { name: [{ message: "bad name", offset: null }] },
      1: { expression: [{ message: "undeclared reference", offset: 7 }] },
    });
    expect(rulesPayload([{ name: " positive ", expression: "record.x > 0", message: "m", path: "x" }])).toEqual([
      { name: "positive", expression: "record.x > 0", message: "m", path: "/x" },
    ]);
  });

  it("suggests an object name from its label", () => {
    expect(nameFromLabel("Solar plant")).toBe("solar_plant");
    expect(nameFromLabel("2nd site")).toBe("");
    expect(nameFromLabel("光伏电站")).toBe("");
  });
});
