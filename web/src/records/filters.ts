/**
 * List filters by field type — text contains, enum select, number and date ranges — as the
 * list endpoint's `filter[field][op]=value` and as a saved view stores them.
 */
import type { FieldDefinition, ObjectDefinition, ObjectPermission } from "../api/types";
import type { FilterOperator, ViewFilter } from "../api/workspace";
import { canSortBy, readableFields } from "./fields";

export type FilterControl = "text" | "select" | "number" | "date" | "boolean";

/** The operators offered for a field, the first being the default. */
export function operatorsFor(field: FieldDefinition): FilterOperator[] {
  switch (field.type) {
    case "text":
    case "long_text":
    case "email":
    case "phone":
    case "url":
      return ["contains", "eq", "starts_with"];
    case "enum":
      return ["eq", "ne"];
    case "multi_enum":
      return ["has"];
    case "number":
    case "money":
    case "percent":
    case "date":
    case "datetime":
      return ["gte", "lte", "eq"];
    case "boolean":
      return ["eq"];
    case "relation":
      return ["eq"];
    case "json":
      return [];
  }
}

/** The input a filter's value is typed in. */
export function filterControl(field: FieldDefinition): FilterControl {
  switch (field.type) {
    case "enum":
    case "multi_enum":
      return "select";
    case "number":
    case "money":
    case "percent":
      return "number";
    case "date":
    case "datetime":
      return "date";
    case "boolean":
      return "boolean";
    default:
      return "text";
  }
}

/**
 * Fields a list can be filtered by: readable, not customer-authorized (the server refuses to
 * filter on what consent may withhold), not JSON; to-many relations neither.
 */
export function filterableFields(
  object: ObjectDefinition,
  permission: ObjectPermission | null,
): FieldDefinition[] {
  return readableFields(object, permission).filter(
    (f) => (canSortBy(f) || f.type === "multi_enum") && operatorsFor(f).length > 0,
  );
}

/** A new filter on a field: its default operator, no value yet. */
export function newFilter(field: FieldDefinition): ViewFilter {
  return { field: field.name, operator: operatorsFor(field)[0] ?? "eq", value: "" };
}

/** The filters to send: those with a value, a datetime's date widened to the whole day. */
export function activeFilters(
  object: ObjectDefinition,
  filters: ViewFilter[],
): { field: string; operator?: string; value: string }[] {
  const result = [];
  for (const filter of filters) {
    const value = filter.value.trim();
    if (value === "") continue;
    const field = object.fields.find((f) => f.name === filter.field);
    let sent = value;
    if (field?.type === "datetime" && /^\d{4}-\d{2}-\d{2}$/.test(value)) {
      sent = filter.operator === "lte" ? `${value}T23:59:59.999Z` : `${value}T00:00:00Z`;
    }
    result.push({ field: filter.field, operator: filter.operator, value: sent });
  }
  return result;
}
