/**
 * The record edit form's logic, kept out of React so it can be tested on its own:
 * field values ↔ input values, the PATCH of what changed, and what to do when someone else
 * saved first (412): load their version without losing anything the user typed.
 */
import type { FieldDefinition, ObjectPermission, RecordData } from "../api/types";
import { withheldFields } from "./fields";
import { asText } from "./text";

export type InputValue = string | boolean | string[];
export type Draft = Record<string, InputValue>;

export type InputKind =
  | "text"
  | "textarea"
  | "email"
  | "tel"
  | "url"
  | "number"
  | "date"
  | "datetime-local"
  | "checkbox"
  | "select"
  | "multi"
  | "relation"
  | "json";

/** The control for a field type; null: not editable in this console yet. */
export function inputKind(field: FieldDefinition): InputKind | null {
  switch (field.type) {
    case "text":
      return "text";
    case "long_text":
      return "textarea";
    case "email":
      return "email";
    case "phone":
      return "tel";
    case "url":
      return "url";
    case "number":
    case "money":
    case "percent":
      return "number";
    case "date":
      return "date";
    case "datetime":
      return "datetime-local";
    case "boolean":
      return "checkbox";
    case "enum":
      return "select";
    case "multi_enum":
      return "multi";
    case "relation":
      // A to-many relation is written from the other side (or by the API): no picker here.
      return field.cardinality === "many" || !field.target ? null : "relation";
    case "json":
      return "json";
  }
}

/** Whether the user's roles let them write a field (`write_fields`, less `hidden_fields`). */
export function mayWriteField(permission: ObjectPermission | null, name: string): boolean {
  if (!permission) return false;
  if (permission.hidden_fields.includes(name)) return false;
  return permission.write_fields === "*" || permission.write_fields.includes(name);
}

/**
 * Fields the form edits: readable, not withheld from this record, of an editable type, the
 * user's roles allowing `update` on the object and a write of the field (/auth/me's
 * `write_fields`; the server checks again and the form shows why it refused).
 */
export function editableFields(
  fields: FieldDefinition[],
  permission: ObjectPermission | null,
  record: RecordData,
): FieldDefinition[] {
  if (!permission?.actions.includes("update")) return [];
  const withheld = withheldFields(record);
  return fields.filter(
    (f) =>
      mayWriteField(permission, f.name) &&
      !withheld.has(f.name) &&
      f.name in record &&
      inputKind(f) !== null,
  );
}

/** Fields of a create form: writable by the user and of an editable type. */
export function creatableFields(
  fields: FieldDefinition[],
  permission: ObjectPermission | null,
): FieldDefinition[] {
  if (!permission?.actions.includes("create")) return [];
  return fields.filter((f) => mayWriteField(permission, f.name) && inputKind(f) !== null);
}

function pad(n: number): string {
  return String(n).padStart(2, "0");
}

/** An ISO date-time → the `YYYY-MM-DDTHH:mm` a datetime-local input shows (local time). */
export function toLocalDateTime(iso: string): string {
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return "";
  return (
    `${at.getFullYear()}-${pad(at.getMonth() + 1)}-${pad(at.getDate())}` +
    `T${pad(at.getHours())}:${pad(at.getMinutes())}`
  );
}

/** A stored value → what its input holds. */
export function toInput(field: FieldDefinition, value: unknown): InputValue {
  const kind = inputKind(field);
  if (kind === "checkbox") return value === true;
  if (kind === "multi") return Array.isArray(value) ? value.map(asText) : [];
  if (value === null || value === undefined) return "";
  if (kind === "datetime-local") return toLocalDateTime(asText(value));
  if (kind === "json") return JSON.stringify(value, null, 2);
  return asText(value);
}

/** What an input holds → the value to send (empty → null, numbers as numbers). */
export function fromInput(field: FieldDefinition, input: InputValue): unknown {
  const kind = inputKind(field);
  if (kind === "checkbox") return input === true;
  if (kind === "multi") {
    const chosen = Array.isArray(input) ? input : [];
    // In the options' order, so an unchanged choice compares equal.
    return field.options.map((o) => o.value).filter((v) => chosen.includes(v));
  }
  const text = typeof input === "string" ? input : "";
  if (text.trim() === "") return null;
  if (kind === "number") {
    const number = Number(text);
    return Number.isFinite(number) ? number : text; // the server explains a bad number
  }
  if (kind === "datetime-local") {
    const at = new Date(text);
    return Number.isNaN(at.getTime()) ? text : at.toISOString();
  }
  if (kind === "json") {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return text; // the server explains what is wrong with it, at the field
    }
  }
  return text;
}

export function sameInput(a: InputValue | undefined, b: InputValue | undefined): boolean {
  if (Array.isArray(a) || Array.isArray(b)) {
    const left = Array.isArray(a) ? [...a].sort() : [];
    const right = Array.isArray(b) ? [...b].sort() : [];
    return left.length === right.length && left.every((v, i) => v === right[i]);
  }
  return a === b;
}

export function draftOf(fields: FieldDefinition[], record: RecordData): Draft {
  const draft: Draft = {};
  for (const field of fields) draft[field.name] = toInput(field, record[field.name]);
  return draft;
}

/** The fields whose input differs from the record the form was opened on. */
export function changedFields(fields: FieldDefinition[], base: RecordData, draft: Draft): string[] {
  return fields
    .filter((f) => !sameInput(draft[f.name], toInput(f, base[f.name])))
    .map((f) => f.name);
}

/** The PATCH body: only what changed (null clears a field). */
export function buildPatch(
  fields: FieldDefinition[],
  base: RecordData,
  draft: Draft,
): Record<string, unknown> {
  const changed = new Set(changedFields(fields, base, draft));
  const patch: Record<string, unknown> = {};
  for (const field of fields) {
    if (changed.has(field.name)) patch[field.name] = fromInput(field, draft[field.name] ?? "");
  }
  return patch;
}

export interface Reconciled {
  /** The form's new contents: the user's edits, their version everywhere else. */
  draft: Draft;
  /** Fields both changed, differently: their stored value, shown beside the user's. */
  conflicts: Record<string, unknown>;
}

/**
 * After a 412: merge their newer version into the form. What the user typed stays; a field
 * the user did not touch takes their value (so saving does not undo their change); where both
 * changed a field differently, the user's value stays in the input and theirs is reported.
 */
export function reconcile(
  fields: FieldDefinition[],
  base: RecordData,
  latest: RecordData,
  draft: Draft,
): Reconciled {
  const next: Draft = {};
  const conflicts: Record<string, unknown> = {};
  for (const field of fields) {
    const name = field.name;
    const mine = draft[name] ?? toInput(field, base[name]);
    const was = toInput(field, base[name]);
    const now = toInput(field, latest[name]);
    if (sameInput(mine, was)) {
      next[name] = now;
    } else {
      next[name] = mine;
      if (!sameInput(now, was) && !sameInput(mine, now)) conflicts[name] = latest[name];
    }
  }
  return { draft: next, conflicts };
}

/** The POST body of a create form: every field given a value (empty inputs are left out). */
export function buildCreate(fields: FieldDefinition[], draft: Draft): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const field of fields) {
    const input = draft[field.name];
    if (input === undefined) continue;
    const kind = inputKind(field);
    if (kind === "checkbox" && input !== true) continue;
    if (kind === "multi" && (!Array.isArray(input) || input.length === 0)) continue;
    const value = fromInput(field, input);
    if (value !== null) body[field.name] = value;
  }
  return body;
}
