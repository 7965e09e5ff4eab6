/**
 * Pure logic of the object & field designer: the 15 field types and what each can be set to,
 * the field form ↔ the metadata API's payload, and where a refusal's errors belong.
 */
import { parsePointer, type ProblemFieldError } from "../api/problem";
import type { FieldDefinition, FieldType, ObjectDefinition } from "../api/types";

export const FIELD_TYPES: readonly FieldType[] = [
  "text",
  "long_text",
  "number",
  "money",
  "percent",
  "date",
  "datetime",
  "boolean",
  "enum",
  "multi_enum",
  "email",
  "phone",
  "url",
  "relation",
  "json",
];

const NUMERIC = new Set<FieldType>(["number", "money", "percent"]);
const TEXTUAL = new Set<FieldType>(["text", "long_text"]);
// records/fields.py INDEXABLE less boolean (unique) — the server has the last word.
const NOT_INDEXABLE = new Set<FieldType>(["long_text", "multi_enum", "json"]);

/** Which settings a type has (the form shows only those). */
export function settingsOf(type: FieldType) {
  return {
    options: type === "enum" || type === "multi_enum",
    target: type === "relation",
    range: NUMERIC.has(type),
    maxLength: TEXTUAL.has(type),
    unique: !NOT_INDEXABLE.has(type) && type !== "boolean",
    indexed: !NOT_INDEXABLE.has(type),
    defaultValue: type !== "relation",
  };
}

export interface OptionDraft {
  value: string;
  label: string;
  label_zh: string;
}

/** The field form: text inputs hold text; the payload is built from it. */
export interface FieldDraft {
  name: string;
  type: FieldType;
  label: string;
  label_zh: string;
  description: string;
  required: boolean;
  unique: boolean;
  indexed: boolean;
  defaultValue: string;
  options: OptionDraft[];
  target: string;
  cardinality: "one" | "many";
  maxLength: string;
  minimum: string;
  maximum: string;
}

export function emptyField(type: FieldType = "text"): FieldDraft {
  return {
    name: "",
    type,
    label: "",
    label_zh: "",
    description: "",
    required: false,
    unique: false,
    indexed: false,
    defaultValue: "",
    options: [],
    target: "",
    cardinality: "one",
    maxLength: "",
    minimum: "",
    maximum: "",
  };
}

function text(value: unknown): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return JSON.stringify(value);
}

export function draftOfField(field: FieldDefinition): FieldDraft {
  return {
    name: field.name,
    type: field.type,
    label: field.label ?? "",
    label_zh: field.label_zh ?? "",
    description: field.description ?? "",
    required: field.required,
    unique: field.unique,
    indexed: field.indexed,
    defaultValue: Array.isArray(field.default)
      ? field.default.map(text).join(";")
      : text(field.default),
    options: field.options.map((o) => ({
      value: o.value,
      label: o.label ?? "",
      label_zh: o.label_zh ?? "",
    })),
    target: field.target ?? "",
    cardinality: field.cardinality,
    maxLength: text(field.max_length),
    minimum: text(field.minimum),
    maximum: text(field.maximum),
  };
}

/** A form's default text → the JSON value of the type (the server validates it). */
export function defaultValueOf(type: FieldType, raw: string): unknown {
  const value = raw.trim();
  if (value === "") return null;
  if (NUMERIC.has(type)) {
    const number = Number(value);
    return Number.isFinite(number) ? number : value;
  }
  if (type === "boolean") {
    if (["true", "yes", "1", "是"].includes(value.toLowerCase())) return true;
    if (["false", "no", "0", "否"].includes(value.toLowerCase())) return false;
    return value;
  }
  if (type === "multi_enum") {
    return value
      .split(";")
      .map((part) => part.trim())
      .filter(Boolean);
  }
  if (type === "json") {
    try {
      return JSON.parse(value) as unknown;
    } catch {
      return value;
    }
  }
  return TEXTUAL.has(type) ? raw : value;
}

function numberOrNull(raw: string): number | string | null {
  const value = raw.trim();
  if (value === "") return null;
  const number = Number(value);
  return Number.isFinite(number) ? number : value;
}

function orNull(value: string): string | null {
  return value.trim() === "" ? null : value.trim();
}

/** The body of POST …/fields (a new field) from the form. */
export function fieldPayload(draft: FieldDraft): Record<string, unknown> {
  const settings = settingsOf(draft.type);
  const payload: Record<string, unknown> = {
    name: draft.name.trim(),
    type: draft.type,
    label: orNull(draft.label),
    label_zh: orNull(draft.label_zh),
    description: orNull(draft.description),
    required: draft.required,
    unique: settings.unique && draft.unique,
    indexed: settings.indexed && draft.indexed,
    default: settings.defaultValue ? defaultValueOf(draft.type, draft.defaultValue) : null,
  };
  if (settings.options) {
    payload.options = draft.options
      .filter((o) => o.value.trim() !== "")
      .map((o) => ({ value: o.value.trim(), label: orNull(o.label), label_zh: orNull(o.label_zh) }));
  }
  if (settings.target) {
    payload.target = orNull(draft.target);
    payload.cardinality = draft.cardinality;
  }
  if (settings.maxLength) payload.max_length = numberOrNull(draft.maxLength);
  if (settings.range) {
    payload.minimum = numberOrNull(draft.minimum);
    payload.maximum = numberOrNull(draft.maximum);
  }
  return payload;
}

/** The body of PATCH …/fields/{name}: what may change (not the name, type or target). */
export function fieldChanges(draft: FieldDraft): Record<string, unknown> {
  const payload = fieldPayload(draft);
  delete payload.name;
  delete payload.type;
  delete payload.target;
  delete payload.cardinality;
  return payload;
}

/** Form keys, for placing errors: the payload's key → the form input it came from. */
const INPUT_OF: Record<string, string> = { default: "defaultValue", max_length: "maxLength" };

/**
 * A refusal's errors placed at the form's inputs (`/name`, `/options/1/label_zh`,
 * `/default` …); what fits no input goes to `general`. `prefix` strips a leading part, e.g.
 * `/fields/0` for a field inside a new object.
 */
export function placeErrors(
  errors: ProblemFieldError[],
  known: Iterable<string>,
  prefix = "",
): { byInput: Record<string, string[]>; general: string[] } {
  const inputs = new Set(known);
  const byInput: Record<string, string[]> = {};
  const general: string[] = [];
  for (const error of errors) {
    const path = prefix && error.path.startsWith(prefix) ? error.path.slice(prefix.length) : error.path;
    const [head] = parsePointer(path);
    const input = head === undefined ? undefined : (INPUT_OF[head] ?? head);
    if (input !== undefined && inputs.has(input)) (byInput[input] ??= []).push(error.message);
    else general.push(error.message);
  }
  return { byInput, general };
}

export interface RuleDraft {
  name: string;
  expression: string;
  message: string;
  path: string;
}

export function rulesOf(object: ObjectDefinition): RuleDraft[] {
  return object.validation_rules.map((r) => ({
    name: r.name,
    expression: r.expression,
    message: r.message,
    path: r.path,
  }));
}

/** The `validation_rules` of PATCH …/objects/{name}. */
export function rulesPayload(rules: RuleDraft[]): Record<string, unknown>[] {
  return rules.map((r) => ({
    name: r.name.trim(),
    expression: r.expression,
    message: r.message,
    path: r.path.trim() === "" ? "" : r.path.startsWith("/") ? r.path.trim() : `/${r.path.trim()}`,
  }));
}

export interface RuleProblem {
  message: string;
  /** Offset into the expression (invalid CEL), when the server gave one. */
  offset: number | null;
}

/** `/validation_rules/<i>/<part>` errors by rule index and part (`expression`, `name` …). */
export function ruleErrors(
  errors: (ProblemFieldError & { offset?: unknown })[],
): Record<number, Record<string, RuleProblem[]>> {
  const result: Record<number, Record<string, RuleProblem[]>> = {};
  for (const error of errors) {
    const [head, index, part] = parsePointer(error.path);
    if (head !== "validation_rules" || index === undefined || !/^\d+$/.test(index)) continue;
    const byPart = (result[Number(index)] ??= {});
    (byPart[part ?? "expression"] ??= []).push({
      message: error.message,
      offset: typeof error.offset === "number" ? error.offset : null,
    });
  }
  return result;
}

/** A new object's name from its English label: `Solar plant` → `solar_plant`. */
export function nameFromLabel(label: string): string {
  const slug = label
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "_")
    .replace(/^_+|_+$/g, "")
    .slice(0, 63);
  return /^[a-z]/.test(slug) ? slug : "";
}
