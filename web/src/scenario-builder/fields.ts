/**
 * Fields a condition or parameter may name, suggested from the chosen event types' JSON
 * Schemas (`event.data.*`), the lookups (records: `asset.*` from the object's fields) and the
 * windows (`windows.<name>`, a number).
 */
import type { ValueKind } from "./cel";

export interface FieldSuggestion {
  /** CEL path, e.g. `event.data.severity`. */
  path: string;
  kind: ValueKind | "object" | "list";
  /** Allowed values (a JSON Schema enum or an enum field's options). */
  choices: string[];
  /** Where it comes from, for grouping: the event type, the lookup, or "windows". */
  origin: string;
}

type JsonSchema = Record<string, unknown>;

function schemaKind(schema: JsonSchema): FieldSuggestion["kind"] {
  let type = schema.type;
  if (Array.isArray(type)) type = type.find((t) => t !== "null");
  if (type === "number" || type === "integer") return "number";
  if (type === "boolean") return "boolean";
  if (type === "object") return "object";
  if (type === "array") return "list";
  return "text";
}

/** Every property of a `data` schema, nested objects included (depth-first, by name). */
export function schemaFields(
  schema: unknown,
  origin: string,
  prefix = "event.data",
  depth = 0,
): FieldSuggestion[] {
  if (typeof schema !== "object" || schema === null || depth > 4) return [];
  const properties = (schema as JsonSchema).properties;
  if (typeof properties !== "object" || properties === null) return [];
  const out: FieldSuggestion[] = [];
  for (const [name, sub] of Object.entries(properties as Record<string, JsonSchema>).sort(([a], [b]) =>
    a.localeCompare(b),
  )) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) continue;
    const path = `${prefix}.${name}`;
    const kind = schemaKind(sub);
    const choices = Array.isArray(sub.enum) ? sub.enum.map(String) : [];
    out.push({ path, kind, choices, origin });
    if (kind === "object") out.push(...schemaFields(sub, origin, path, depth + 1));
  }
  return out;
}

/** Suggestions from several sources, first one of each path kept. */
export function mergeFields(...lists: FieldSuggestion[][]): FieldSuggestion[] {
  const seen = new Map<string, FieldSuggestion>();
  for (const list of lists) for (const field of list) if (!seen.has(field.path)) seen.set(field.path, field);
  return [...seen.values()];
}

export interface ObjectFieldInfo {
  name: string;
  type: string;
  options?: { value: string }[] | null;
}

const NUMERIC = new Set(["number", "integer", "currency", "percent"]);

/** A lookup's record fields: `asset.id`, `asset.serial_number` … */
export function lookupFields(lookup: string, fields: ObjectFieldInfo[]): FieldSuggestion[] {
  const out: FieldSuggestion[] = [{ path: `${lookup}.id`, kind: "text", choices: [], origin: lookup }];
  for (const field of fields) {
    const kind: FieldSuggestion["kind"] = NUMERIC.has(field.type)
      ? "number"
      : field.type === "boolean"
        ? "boolean"
        : "text";
    const choices = (field.options ?? []).map((o) => o.value);
    out.push({ path: `${lookup}.${field.name}`, kind, choices, origin: lookup });
  }
  return out;
}

export function windowFields(names: string[]): FieldSuggestion[] {
  return names.map((name) => ({ path: `windows.${name}`, kind: "number", choices: [], origin: "windows" }));
}

/** The value kind a row takes for a field ("text" for paths not suggested). */
export function valueKindOf(field: FieldSuggestion | undefined): ValueKind {
  if (!field) return "text";
  return field.kind === "number" || field.kind === "boolean" ? field.kind : "text";
}

/** The short name of a path shown in a picker: `event.data.severity` → `severity`. */
export function shortName(path: string): string {
  return path.startsWith("event.data.") ? path.slice("event.data.".length) : path;
}
