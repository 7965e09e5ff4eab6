/**
 * A step's parameter values as the form shows them: text as typed (templates included), other
 * values — numbers, lists, objects, computed values `{cel: …}` — as one line of YAML flow text,
 * read back by kind.
 */
import { parse, stringify } from "yaml";

export type ParamKind = "text" | "number" | "boolean" | "object" | "list" | "any" | "duration";

export function valueText(value: unknown): string {
  if (value === undefined || value === null) return "";
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return stringify(value, { collectionStyle: "flow", lineWidth: 0 }).trim();
}

/** The value typed for a parameter of `kind`; undefined for an empty input (left out). */
export function parseValue(text: string, kind: ParamKind): unknown {
  const trimmed = text.trim();
  if (trimmed === "") return undefined;
  if (trimmed.startsWith("{") || trimmed.startsWith("[")) {
    try {
      return parse(trimmed) as unknown;
    } catch {
      return text; // the server says what is wrong with it, at this parameter
    }
  }
  if (kind === "number" && /^-?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(trimmed)) return Number(trimmed);
  if (kind === "boolean" && (trimmed === "true" || trimmed === "false")) return trimmed === "true";
  return text;
}

/** A value picked from "insert a field": appended as a template to text, else computed. */
export function insertField(current: unknown, path: string, kind: ParamKind): unknown {
  if (kind === "text" || kind === "any" || kind === "duration") {
    const base = typeof current === "string" ? current : "";
    const joiner = base === "" || base.endsWith(" ") ? "" : " ";
    return `${base}${joiner}{{ ${path} }}`;
  }
  return { cel: path };
}
