/**
 * The scenario definition the builder edits: the DSL's JSON (src/kindred/scenarios/definition.py)
 * as a plain object, kept in sync both ways with its YAML text. The object is the model: the
 * form reads it defensively (YAML may hold anything) and writes it immutably; unknown keys
 * are kept as they are.
 */
import { isMap, isSeq, LineCounter, parseDocument, stringify, type Node } from "yaml";

export type Duration = string | number;

export interface StepDef {
  id: string;
  action?: string;
  with?: Record<string, unknown>;
  when?: string;
  if?: string;
  then?: StepDef[];
  else?: StepDef[];
  retry?: { attempts?: number; backoff?: Duration; max_backoff?: Duration };
  timeout?: Duration;
  on_failure?: StepDef[] | "stop" | "continue";
  [key: string]: unknown;
}

export interface ConditionDef {
  cel: string;
  description?: string;
}

export interface LookupDef {
  name: string;
  object: string;
  id?: string;
  match?: Record<string, string>;
}

export interface WindowDef {
  name: string;
  events: string[];
  size: Duration;
  aggregate: "count" | "sum" | "avg" | "min" | "max" | "distinct";
  kind?: "sliding" | "tumbling";
  field?: string;
  key_field?: string;
  where?: string;
}

export interface WhenDef {
  events?: string[];
  filter?: string;
  absence?: { events: string[]; after: Duration; key_field?: string };
}

export interface Definition {
  name: string;
  title: string;
  description?: string;
  tags?: string[];
  when: WhenDef;
  lookups?: LookupDef[];
  windows?: WindowDef[];
  and?: (string | ConditionDef)[];
  then: StepDef[];
  [key: string]: unknown;
}

export function blankDefinition(): Definition {
  return { name: "", title: "", description: "", when: { events: [] }, and: [], then: [] };
}

// -- defensive reads ----------------------------------------------------------------------------

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function asArray<T>(value: unknown): T[] {
  return Array.isArray(value) ? (value as T[]) : [];
}

export function asText(value: unknown): string {
  return typeof value === "string" ? value : typeof value === "number" ? String(value) : "";
}

export function whenOf(definition: Definition): WhenDef {
  return isObject(definition.when) ? definition.when : {};
}

/** An `and` entry's CEL (a bare string or `{cel}`). */
export function conditionCel(entry: unknown): string {
  if (typeof entry === "string") return entry;
  if (isObject(entry)) return asText(entry.cel);
  return "";
}

export function conditionPointer(index: number, entry: unknown): string {
  return typeof entry === "string" ? `/and/${index}` : `/and/${index}/cel`;
}

// -- YAML ---------------------------------------------------------------------------------------

/** The definition as YAML, keys in the order written. */
export function toYaml(definition: unknown): string {
  return stringify(definition, { lineWidth: 0 });
}

export interface YamlProblem {
  message: string;
  from: number;
  to: number;
}

export type YamlRead = { ok: true; value: Definition } | { ok: false; problems: YamlProblem[] };

/** Parse YAML text; problems carry offsets for the editor's markers. Not an object: a problem. */
export function fromYaml(text: string): YamlRead {
  const document = parseDocument(text, { prettyErrors: false });
  if (document.errors.length > 0) {
    return {
      ok: false,
      problems: document.errors.map((error) => ({
        message: error.message.split("\n")[0] ?? error.message,
        from: error.pos[0],
        to: Math.max(error.pos[1], error.pos[0] + 1),
      })),
    };
  }
  const value: unknown = document.toJS();
  if (!isObject(value)) {
    return {
      ok: false,
      problems: [{ message: "a scenario definition is a mapping (name:, title:, when: …)", from: 0, to: Math.max(1, text.length) }],
    };
  }
  return { ok: true, value: value as Definition };
}

/** RFC 6901 tokens of a JSON Pointer. */
export function pointerTokens(pointer: string): string[] {
  if (pointer === "" || pointer === "/") return [];
  return pointer
    .replace(/^\//, "")
    .split("/")
    .map((t) => t.replace(/~1/g, "/").replace(/~0/g, "~"));
}

/**
 * Where a JSON Pointer of the definition is in its YAML text: the deepest node found along
 * the path (so an error about a missing key marks its parent). Null when the text does not
 * parse.
 */
export function yamlRange(text: string, pointer: string): { from: number; to: number; line: number } | null {
  const counter = new LineCounter();
  const document = parseDocument(text, { lineCounter: counter });
  if (document.errors.length > 0) return null;
  let node: unknown = document.contents;
  let found: Node | null = (node as Node | null) ?? null;
  for (const token of pointerTokens(pointer)) {
    if (isMap(node)) {
      const pair = node.items.find((item) => String((item.key as { value?: unknown } | null)?.value ?? item.key) === token);
      if (!pair) break;
      node = pair.value;
      if (pair.value && (pair.value as Node).range) found = pair.value as Node;
      else if ((pair.key as Node | null)?.range) found = pair.key as Node;
    } else if (isSeq(node)) {
      const item = node.items[Number(token)];
      if (item === undefined) break;
      node = item;
      if ((item as Node).range) found = item as Node;
    } else {
      break;
    }
  }
  const range = found?.range;
  if (!range) return { from: 0, to: Math.min(1, text.length), line: 1 };
  return { from: range[0], to: Math.max(range[1], range[0] + 1), line: counter.linePos(range[0]).line };
}

/** A copy of `object` without `key`. */
export function without<T extends object>(object: T, key: string): T {
  return Object.fromEntries(Object.entries(object).filter(([k]) => k !== key)) as T;
}
