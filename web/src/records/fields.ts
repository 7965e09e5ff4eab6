/**
 * What the console shows of an object's fields: labels by language, which fields a user may
 * read, sort and filter, and why a value is withheld.
 */
import type {
  FieldDefinition,
  Me,
  ObjectDefinition,
  ObjectPermission,
  RecordData,
} from "../api/types";
import type { Language } from "../i18n";
import { asText } from "./text";

export function objectLabel(object: ObjectDefinition, language: Language, plural = false): string {
  if (language === "zh-CN" && object.label_zh) return object.label_zh;
  return plural ? object.label_plural : object.label;
}

export function fieldLabel(field: FieldDefinition, language: Language): string {
  if (language === "zh-CN" && field.label_zh) return field.label_zh;
  return field.label ?? field.name;
}

export function optionLabel(field: FieldDefinition, value: string, language: Language): string {
  const option = field.options.find((o) => o.value === value);
  if (!option) return value;
  if (language === "zh-CN" && option.label_zh) return option.label_zh;
  return option.label ?? option.value;
}

export function permissionFor(me: Me | null, objectName: string): ObjectPermission | null {
  return me?.permissions[objectName] ?? null;
}

/** Fields the user's roles let them read (hidden_fields subtracted). */
export function readableFields(object: ObjectDefinition, permission: ObjectPermission | null) {
  const hidden = new Set(permission?.hidden_fields ?? []);
  return object.fields.filter((f) => !hidden.has(f.name));
}

/** Column order: the title field first (it names the row), then the object's field order. */
export function orderColumns(object: ObjectDefinition, names: Iterable<string>): string[] {
  const chosen = new Set(names);
  const ordered = object.fields.map((f) => f.name).filter((n) => chosen.has(n));
  const title = object.title_field;
  return title && chosen.has(title) ? [title, ...ordered.filter((n) => n !== title)] : ordered;
}

/** The default columns: the title field first, then the next readable fields, 6 in all. */
export function defaultColumns(object: ObjectDefinition, permission: ObjectPermission | null) {
  return orderColumns(object, readableFields(object, permission).map((f) => f.name)).slice(0, 6);
}

const TEXT_KINDS = new Set(["text", "long_text", "enum", "email", "phone", "url"]);

/**
 * Sorting and filtering by a value would reveal what consent withholds, so the server
 * refuses it on customer-authorized fields; lists and JSON cannot be ordered.
 */
export function canSortBy(field: FieldDefinition): boolean {
  if (field.sovereignty === "customer_authorized") return false;
  if (field.type === "json" || field.type === "multi_enum") return false;
  return !(field.type === "relation" && field.cardinality === "many");
}

/** How the list's filter box filters: `contains` on text fields, equality otherwise. */
export function titleFilter(
  object: ObjectDefinition,
  permission: ObjectPermission | null,
): { field: FieldDefinition; operator: "contains" | null } | null {
  const name = object.title_field;
  if (!name) return null;
  const field = readableFields(object, permission).find((f) => f.name === name);
  if (!field || !canSortBy(field)) return null;
  // records/query.py: contains and starts_with apply to fields stored as text.
  return { field, operator: TEXT_KINDS.has(field.type) ? "contains" : null };
}

export interface Withheld {
  reason: string;
  detail: string | null;
}

/** Field name → why its value is withheld, from `meta.withheld`. */
export function withheldFields(record: RecordData): Map<string, Withheld> {
  const result = new Map<string, Withheld>();
  for (const entry of record.meta?.withheld ?? []) {
    result.set(entry.field, { reason: entry.reason, detail: entry.detail });
  }
  return result;
}

export type Cell = { kind: "value"; value: unknown } | { kind: "withheld"; withheld: Withheld };

/**
 * A field's value in a record, or why it is not there. The server sends every readable
 * field (null when empty); one missing without a `meta.withheld` entry was taken out by a
 * permission rule, and says so rather than looking empty.
 */
export function cellOf(record: RecordData, field: string, withheld: Map<string, Withheld>): Cell {
  const reason = withheld.get(field);
  if (reason) return { kind: "withheld", withheld: reason };
  if (!(field in record)) {
    return { kind: "withheld", withheld: { reason: "no-permission", detail: null } };
  }
  return { kind: "value", value: record[field] };
}

export function recordTitle(object: ObjectDefinition, record: RecordData): string | null {
  const name = object.title_field;
  if (!name) return null;
  const value = record[name];
  if (value === null || value === undefined || value === "") return null;
  return asText(value);
}

export const WITHHELD_REASONS = [
  "no-consent",
  "no-purpose",
  "unknown-purpose",
  "no-subject",
  "expired-consent",
  "not-yet-valid",
  "customer-request",
  "not-for-you",
  "no-permission",
] as const;

/** The catalog key of a withheld reason (unknown reasons read "restricted"). */
export function withheldReasonKey(reason: string): `withheld.reasons.${string}` {
  return (WITHHELD_REASONS as readonly string[]).includes(reason)
    ? `withheld.reasons.${reason}`
    : "withheld.reasons.other";
}
