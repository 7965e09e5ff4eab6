/** Formatting for the operations pages: latencies, rates, times, withheld values, input. */

/** Latency in ms: whole ms below a second, else seconds with two decimals; null: none. */
export function latencyParts(ms: number | null | undefined): { unit: "ms" | "s"; value: string } | null {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return null;
  if (ms < 1000) return { unit: "ms", value: String(Math.round(ms)) };
  return { unit: "s", value: (ms / 1000).toFixed(2) };
}

/** A success rate (0..1) as a percentage with one decimal ("99.5"); null: no finished run. */
export function percent(rate: number | null | undefined): string | null {
  if (rate === null || rate === undefined || !Number.isFinite(rate)) return null;
  return (Math.round(rate * 1000) / 10).toFixed(1);
}

/** A moment in the user's language, date and time (seconds shown). */
export function formatTime(iso: string | null | undefined, language: string): string {
  if (!iso) return "";
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return iso;
  return new Intl.DateTimeFormat(language, { dateStyle: "medium", timeStyle: "medium" }).format(at);
}

/** A bucket's start, short: the time of day for buckets under a day, else the date. */
export function formatBucket(iso: string, bucketSeconds: number, language: string): string {
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return iso;
  const options: Intl.DateTimeFormatOptions =
    bucketSeconds < 86_400
      ? { month: "numeric", day: "numeric", hour: "2-digit", minute: "2-digit" }
      : { year: "numeric", month: "numeric", day: "numeric" };
  return new Intl.DateTimeFormat(language, options).format(at);
}

/** A number with grouping, at most two decimals, in the user's language. */
export function formatNumber(value: number, language: string): string {
  return new Intl.NumberFormat(language, { maximumFractionDigits: 2 }).format(value);
}

/** `{"withheld": "<why>"}` as the run history stores what the reader may not see. */
export function withheldReason(value: unknown): string | null {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return null;
  const entries = Object.entries(value as Record<string, unknown>);
  const [first] = entries;
  if (entries.length === 1 && first?.[0] === "withheld" && typeof first[1] === "string") {
    return first[1];
  }
  return null;
}

/** Stored JSON for reading: indented. */
export function pretty(value: unknown): string {
  return JSON.stringify(value === undefined ? null : value, null, 2);
}

/** "iot.*, customer.birthday.upcoming" → ["iot.*", "customer.birthday.upcoming"]. */
export function parseTypes(text: string): string[] {
  return text
    .split(/[,\s，]+/)
    .map((part) => part.trim())
    .filter((part) => part.length > 0);
}

export type JsonCheck = { ok: true; value: unknown } | { ok: false; message: string };

/** The text as JSON, or why it is not. */
export function checkJson(text: string): JsonCheck {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (error) {
    return { ok: false, message: error instanceof Error ? error.message : String(error) };
  }
}

/** A dead letter's payload for editing: indented when it is JSON, as stored otherwise. */
export function editablePayload(payload: string): string {
  const parsed = checkJson(payload);
  return parsed.ok ? pretty(parsed.value) : payload;
}
