/**
 * Merge review logic: what a match feature says, the two records' values side by side, who
 * may merge or undo (the API's rules, graph/resolution.py), and the merge request the
 * reviewer's choices make.
 */
import type { DuplicatePair, MatchFeature, MergeRequest } from "../api/graph";
import type { Me, ObjectDefinition, ObjectPermission, RecordData } from "../api/types";
import { cellOf, readableFields, withheldFields, type Cell } from "../records/fields";

export type Effect = "for" | "against" | "conflict" | "neutral";
export type Explanation = "same" | "similar" | "different" | "conflict" | "notCounted";

export const KNOWN_FEATURES = [
  "name",
  "email",
  "phone",
  "wechat_openid",
  "account",
  "city",
  "province",
  "tax_id",
  "external_id",
  "name_number",
  "domain",
  "address",
] as const;

export function isKnownFeature(name: string): name is (typeof KNOWN_FEATURES)[number] {
  return (KNOWN_FEATURES as readonly string[]).includes(name);
}

export function effectOf(feature: MatchFeature): Effect {
  if (feature.conflict) return "conflict";
  if (feature.contribution > 0) return "for";
  if (feature.contribution < 0) return "against";
  return "neutral";
}

/** The gist of a feature's explanation, for a sentence in the UI language. */
export function explanationOf(feature: MatchFeature): Explanation {
  if (feature.conflict) return "conflict";
  const similarity = feature.similarity ?? 0;
  if (similarity >= 0.999) return "same";
  if (feature.contribution === 0) return "notCounted";
  if (similarity > 0) return "similar";
  return "different";
}

/** Merging needs update and delete on the object; undoing needs create and update. */
export function mayMerge(me: Me, object: string): boolean {
  const actions = me.permissions[object]?.actions ?? [];
  return actions.includes("update") && actions.includes("delete");
}

export function mayUndo(me: Me, object: string): boolean {
  const actions = me.permissions[object]?.actions ?? [];
  return actions.includes("create") && actions.includes("update");
}

function canWrite(permission: ObjectPermission | null, field: string): boolean {
  if (!permission) return false;
  return permission.write_fields === "*" || permission.write_fields.includes(field);
}

function isEmpty(cell: Cell): boolean {
  return (
    cell.kind === "value" &&
    (cell.value === null ||
      cell.value === undefined ||
      cell.value === "" ||
      (Array.isArray(cell.value) && cell.value.length === 0))
  );
}

export interface FieldRow {
  name: string;
  field: ObjectDefinition["fields"][number];
  cells: [Cell, Cell];
  /** Both values readable (neither withheld): only then are they compared. */
  comparable: boolean;
  /** Both values readable and equal. */
  same: boolean;
  /** Both readable, different, neither empty, writable: the reviewer may pick the winner. */
  choosable: boolean;
}

/**
 * The fields to compare: those readable under the user's role with a value (or a withheld
 * value) in either record. Withheld values stay withheld; they are never compared here.
 */
export function compareRecords(
  object: ObjectDefinition,
  permission: ObjectPermission | null,
  records: readonly [RecordData, RecordData],
): FieldRow[] {
  const withheld = records.map(withheldFields) as [ReturnType<typeof withheldFields>, ReturnType<typeof withheldFields>];
  const rows: FieldRow[] = [];
  for (const field of readableFields(object, permission)) {
    const cells: [Cell, Cell] = [
      cellOf(records[0], field.name, withheld[0]),
      cellOf(records[1], field.name, withheld[1]),
    ];
    if (cells.every(isEmpty)) continue;
    const bothValues = cells[0].kind === "value" && cells[1].kind === "value";
    const same =
      bothValues && JSON.stringify(cells[0].kind === "value" ? cells[0].value : null) ===
        JSON.stringify(cells[1].kind === "value" ? cells[1].value : null);
    rows.push({
      name: field.name,
      field,
      cells,
      comparable: bothValues,
      same,
      choosable: bothValues && !same && !cells.some(isEmpty) && canWrite(permission, field.name),
    });
  }
  return rows;
}

/**
 * The request merging the pair: `survivor` is the index (0 or 1) of the record that stays;
 * `taken` the fields whose value comes from the other record (only choosable ones count).
 * The versions make the server refuse if either record changed since it was shown.
 */
export function mergeRequest(
  pair: DuplicatePair,
  object: string,
  survivor: 0 | 1,
  taken: ReadonlySet<string>,
  rows: readonly FieldRow[],
): MergeRequest {
  const kept = pair.records[survivor];
  const other = pair.records[survivor === 0 ? 1 : 0];
  if (!kept || !other) throw new Error("a duplicate pair has two records");
  const choosable = new Set(rows.filter((r) => r.choosable).map((r) => r.name));
  return {
    object,
    survivor: kept.id,
    duplicate: other.id,
    take_from_duplicate: [...taken].filter((name) => choosable.has(name)).sort(),
    survivor_version: kept.version,
    duplicate_version: other.version,
  };
}

/** A stable id for a pair (the two ids in order). */
export function pairKey(pair: DuplicatePair): string {
  return pair.records.map((r) => r.id).join("+");
}
