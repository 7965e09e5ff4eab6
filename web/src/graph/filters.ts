/**
 * The explorer's filters: which edge types (`<object>.<field>` relation fields) and which
 * objects to draw. The server applies them (the `relation` and `type` query parameters);
 * the options come from the data model the user may read.
 */
import type { GraphFilters } from "../api/graph";
import type { ObjectDefinition } from "../api/types";

export const NO_FILTERS: GraphFilters = { relations: [], types: [] };
export const DEPTHS = [1, 2, 3] as const;
export const PATH_HOPS = [1, 2, 3, 4, 5] as const;

export interface RelationOption {
  /** `<object>.<field>`, as the API names the edge type. */
  value: string;
  object: ObjectDefinition;
  field: ObjectDefinition["fields"][number];
  target: string;
}

/**
 * Every relation field between objects the user may read, by object then field order. An
 * edge to an object they may not read is never drawn, so it is no option either.
 */
export function relationOptions(objects: readonly ObjectDefinition[]): RelationOption[] {
  const readable = new Set(objects.map((o) => o.name));
  const options: RelationOption[] = [];
  for (const object of [...objects].sort((a, b) => a.name.localeCompare(b.name))) {
    for (const field of object.fields) {
      if (field.type !== "relation" || !field.target || !readable.has(field.target)) continue;
      options.push({ value: `${object.name}.${field.name}`, object, field, target: field.target });
    }
  }
  return options;
}

/** Objects that take part in at least one relation: the others can never be neighbours. */
export function typeOptions(objects: readonly ObjectDefinition[]): ObjectDefinition[] {
  const related = new Set<string>();
  for (const option of relationOptions(objects)) {
    related.add(option.object.name);
    related.add(option.target);
  }
  return objects.filter((o) => related.has(o.name)).sort((a, b) => a.name.localeCompare(b.name));
}

/** `values` with `value` added or taken out (kept sorted: one cache key per choice). */
export function toggle(values: readonly string[], value: string): string[] {
  return values.includes(value)
    ? values.filter((v) => v !== value)
    : [...values, value].sort();
}
