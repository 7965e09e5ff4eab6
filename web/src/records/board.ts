/** The kanban board's logic: which field groups the cards, the columns, and a move. */
import type { FieldDefinition, ObjectDefinition, RecordData } from "../api/types";
import { asText } from "./text";

/** The grouping field: the one named, else `stage`, else the first enum field; null if none. */
export function groupingField(object: ObjectDefinition, wanted: string | null): FieldDefinition | null {
  const enums = object.fields.filter((f) => f.type === "enum" && f.options.length > 0);
  return (
    enums.find((f) => f.name === wanted) ??
    enums.find((f) => f.name === "stage") ??
    enums[0] ??
    null
  );
}

export interface BoardColumn {
  value: string;
  records: RecordData[];
}

/**
 * One column per option (in the field's order), then one for records without a value or with
 * a value no longer among the options; `moved` overrides a record's value while its move is
 * in flight (the optimistic position).
 */
export function boardColumns(
  field: FieldDefinition,
  records: RecordData[],
  moved: Record<string, string> = {},
): BoardColumn[] {
  const columns: BoardColumn[] = field.options.map((o) => ({ value: o.value, records: [] }));
  const other: BoardColumn = { value: "", records: [] };
  for (const record of records) {
    const value = moved[record.id] ?? asText(record[field.name]);
    const column = columns.find((c) => c.value === value) ?? other;
    column.records.push(record);
  }
  return other.records.length > 0 ? [...columns, other] : columns;
}
