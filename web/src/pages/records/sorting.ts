/** The list's `sort` parameter: `name` (ascending) or `-name` (descending), one field. */
export interface SortState {
  field: string;
  descending: boolean;
}

export function parseSort(sort: string | null): SortState | null {
  if (!sort) return null;
  const first = sort.split(",")[0]?.trim() ?? "";
  const field = first.replace(/^[-+]/, "");
  return field ? { field, descending: first.startsWith("-") } : null;
}

/** A header click: a new field sorts ascending, the sorted one flips. */
export function nextSort(current: SortState | null, field: string): string {
  if (current?.field === field && !current.descending) return `-${field}`;
  return field;
}
