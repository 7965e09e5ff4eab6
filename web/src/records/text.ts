/** Any JSON value as display text: strings as they are, other scalars by String, the rest as JSON. */
export function asText(value: unknown): string {
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint") {
    return String(value);
  }
  if (value === null || value === undefined) return "";
  return JSON.stringify(value);
}
