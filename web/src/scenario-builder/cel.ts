/**
 * Conditions as a form: rows (field, operator, value) in and/or groups, turned into CEL — and
 * CEL written that way read back into rows, so a condition saved from the form (or typed in
 * the same shape in YAML) opens in the form again. Anything else stays CEL text.
 *
 *   event.data.severity in ["major", "critical"] && event.data.count >= 3
 *   (asset.tier == "A" || !has(event.data.code)) && event.data.note.contains("urgent")
 */

export type Operator =
  | "=="
  | "!="
  | ">"
  | ">="
  | "<"
  | "<="
  | "in"
  | "not_in"
  | "contains"
  | "starts_with"
  | "exists"
  | "not_exists";

export const OPERATORS: readonly Operator[] = [
  "==",
  "!=",
  ">",
  ">=",
  "<",
  "<=",
  "in",
  "not_in",
  "contains",
  "starts_with",
  "exists",
  "not_exists",
];

/** How a row's value is written in CEL. */
export type ValueKind = "text" | "number" | "boolean";

export interface Row {
  kind: "row";
  /** A CEL path, e.g. `event.data.severity` or `asset.tier`. */
  field: string;
  operator: Operator;
  /** As typed; for in/not in the items (one each). */
  value: string;
  values: string[];
  valueKind: ValueKind;
}

export interface Group {
  kind: "group";
  combinator: "all" | "any";
  items: (Row | Group)[];
}

export function emptyRow(field = "", valueKind: ValueKind = "text"): Row {
  return { kind: "row", field, operator: "==", value: "", values: [], valueKind };
}

export function emptyGroup(): Group {
  return { kind: "group", combinator: "all", items: [emptyRow()] };
}

const PATH = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/;
const NUMBER = /^-?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

export function takesNoValue(operator: Operator): boolean {
  return operator === "exists" || operator === "not_exists";
}

export function takesList(operator: Operator): boolean {
  return operator === "in" || operator === "not_in";
}

/** A CEL string literal: double quotes, with backslashes, quotes and controls escaped. */
export function quote(text: string): string {
  let out = '"';
  for (const char of text) {
    if (char === "\\") out += "\\\\";
    else if (char === '"') out += '\\"';
    else if (char === "\n") out += "\\n";
    else if (char === "\r") out += "\\r";
    else if (char === "\t") out += "\\t";
    else out += char;
  }
  return out + '"';
}

/** A literal of the row's kind, or null when the text is not one (e.g. "12a" as a number). */
export function literal(text: string, kind: ValueKind): string | null {
  const trimmed = text.trim();
  if (kind === "number") return NUMBER.test(trimmed) ? trimmed : null;
  if (kind === "boolean") return trimmed === "true" || trimmed === "false" ? trimmed : null;
  return quote(text);
}

/** Whether the row says enough to be CEL. */
export function complete(row: Row): boolean {
  if (!PATH.test(row.field)) return false;
  if (takesNoValue(row.operator)) return row.field.includes(".");
  if (takesList(row.operator)) {
    return row.values.length > 0 && row.values.every((v) => literal(v, row.valueKind) !== null);
  }
  return literal(row.value, row.valueKind) !== null;
}

/** `has()` takes a field selection: `event.data.code` → `has(event.data.code)`. */
function rowCel(row: Row): string {
  const { field, operator } = row;
  switch (operator) {
    case "exists":
      return `has(${field})`;
    case "not_exists":
      return `!has(${field})`;
    case "in":
    case "not_in": {
      const list = `[${row.values.map((v) => literal(v, row.valueKind) ?? "").join(", ")}]`;
      return operator === "in" ? `${field} in ${list}` : `!(${field} in ${list})`;
    }
    case "contains":
      return `${field}.contains(${quote(row.value)})`;
    case "starts_with":
      return `${field}.startsWith(${quote(row.value)})`;
    default:
      return `${field} ${operator} ${literal(row.value, row.valueKind) ?? ""}`;
  }
}

/** CEL of the complete rows of a group ("" when none is complete). */
export function celOf(group: Group): string {
  const parts: string[] = [];
  for (const item of group.items) {
    if (item.kind === "row") {
      if (complete(item)) parts.push(rowCel(item));
    } else {
      const inner = celOf(item);
      if (!inner) continue;
      const nested = item.items.filter((i) => i.kind === "group" || complete(i)).length > 1;
      parts.push(nested ? `(${inner})` : inner);
    }
  }
  return parts.join(group.combinator === "all" ? " && " : " || ");
}

// -- reading CEL back -------------------------------------------------------------------------

type Token =
  | { t: "path"; v: string }
  | { t: "str"; v: string }
  | { t: "num"; v: string }
  | { t: "bool"; v: string }
  | { t: "op"; v: string }
  | { t: "punct"; v: string };

function tokenize(source: string): Token[] | null {
  const tokens: Token[] = [];
  let i = 0;
  while (i < source.length) {
    const char = source.charAt(i);
    if (/\s/.test(char)) {
      i++;
      continue;
    }
    if (char === '"' || char === "'") {
      let value = "";
      i++;
      for (;;) {
        if (i >= source.length) return null;
        const c = source.charAt(i);
        if (c === char) break;
        if (c === "\\") {
          const next = source.charAt(i + 1);
          const escapes: Record<string, string> = { n: "\n", r: "\r", t: "\t", "\\": "\\", '"': '"', "'": "'" };
          const mapped = escapes[next];
          if (mapped === undefined) return null;
          value += mapped;
          i += 2;
          continue;
        }
        value += c;
        i++;
      }
      i++;
      tokens.push({ t: "str", v: value });
      continue;
    }
    const number = /^-?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?/.exec(source.slice(i));
    if (number && (char !== "-" || tokens.length === 0 || tokens.at(-1)?.t !== "path")) {
      tokens.push({ t: "num", v: number[0] });
      i += number[0].length;
      continue;
    }
    const path = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*/.exec(source.slice(i));
    if (path) {
      const word = path[0];
      if (word === "true" || word === "false") tokens.push({ t: "bool", v: word });
      else if (word === "in") tokens.push({ t: "op", v: "in" });
      else tokens.push({ t: "path", v: word });
      i += word.length;
      continue;
    }
    const op = /^(==|!=|>=|<=|&&|\|\||>|<)/.exec(source.slice(i));
    if (op) {
      tokens.push({ t: "op", v: op[0] });
      i += op[0].length;
      continue;
    }
    if ("()[],!".includes(char)) {
      tokens.push({ t: "punct", v: char });
      i++;
      continue;
    }
    return null;
  }
  return tokens;
}

class Parser {
  private at = 0;
  constructor(private readonly tokens: Token[]) {}

  done(): boolean {
    return this.at >= this.tokens.length;
  }

  private peek(): Token | undefined {
    return this.tokens[this.at];
  }

  private is(t: Token["t"], v?: string): boolean {
    const token = this.peek();
    return token !== undefined && token.t === t && (v === undefined || token.v === v);
  }

  private take(t: Token["t"], v?: string): Token {
    const token = this.peek();
    if (!token || token.t !== t || (v !== undefined && token.v !== v)) throw new Error("unexpected");
    this.at++;
    return token;
  }

  /** or-expression: a group of any, or a single and-group. */
  expression(): Group {
    const first = this.conjunction();
    if (!this.is("op", "||")) return first;
    const items: (Row | Group)[] = [unwrap(first)];
    while (this.is("op", "||")) {
      this.take("op", "||");
      items.push(unwrap(this.conjunction()));
    }
    return { kind: "group", combinator: "any", items };
  }

  private conjunction(): Group {
    const items: (Row | Group)[] = [this.term()];
    while (this.is("op", "&&")) {
      this.take("op", "&&");
      items.push(this.term());
    }
    return { kind: "group", combinator: "all", items };
  }

  private term(): Row | Group {
    if (this.is("punct", "(")) {
      this.take("punct", "(");
      const inner = this.expression();
      this.take("punct", ")");
      return inner;
    }
    if (this.is("punct", "!")) {
      this.take("punct", "!");
      if (this.is("path", "has")) {
        const row = this.has();
        return { ...row, operator: "not_exists" };
      }
      this.take("punct", "(");
      const field = this.take("path").v;
      this.take("op", "in");
      const [values, valueKind] = this.list();
      this.take("punct", ")");
      return { kind: "row", field, operator: "not_in", value: "", values, valueKind };
    }
    if (this.is("path", "has")) return this.has();
    const path = this.take("path").v;
    const method = /^(.*)\.(contains|startsWith)$/.exec(path);
    if (method && this.is("punct", "(")) {
      this.take("punct", "(");
      const value = this.take("str").v;
      this.take("punct", ")");
      const operator = method[2] === "contains" ? "contains" : "starts_with";
      return { kind: "row", field: method[1] ?? "", operator, value, values: [], valueKind: "text" };
    }
    if (this.is("op", "in")) {
      this.take("op", "in");
      const [values, valueKind] = this.list();
      return { kind: "row", field: path, operator: "in", value: "", values, valueKind };
    }
    const op = this.take("op").v;
    if (!["==", "!=", ">", ">=", "<", "<="].includes(op)) throw new Error("operator");
    const [value, valueKind] = this.scalar();
    return { kind: "row", field: path, operator: op as Operator, value, values: [], valueKind };
  }

  private has(): Row {
    this.take("path", "has");
    this.take("punct", "(");
    const field = this.take("path").v;
    this.take("punct", ")");
    return { kind: "row", field, operator: "exists", value: "", values: [], valueKind: "text" };
  }

  private scalar(): [string, ValueKind] {
    const token = this.peek();
    if (!token) throw new Error("value");
    this.at++;
    if (token.t === "str") return [token.v, "text"];
    if (token.t === "num") return [token.v, "number"];
    if (token.t === "bool") return [token.v, "boolean"];
    throw new Error("value");
  }

  private list(): [string[], ValueKind] {
    this.take("punct", "[");
    const values: string[] = [];
    let kind: ValueKind | null = null;
    while (!this.is("punct", "]")) {
      const [value, valueKind] = this.scalar();
      if (kind !== null && kind !== valueKind) throw new Error("mixed list");
      kind = valueKind;
      values.push(value);
      if (!this.is("punct", "]")) this.take("punct", ",");
    }
    this.take("punct", "]");
    return [values, kind ?? "text"];
  }
}

/** A one-item group stands for its item inside another group. */
function unwrap(group: Group): Row | Group {
  return group.items.length === 1 && group.items[0] ? group.items[0] : group;
}

/**
 * The rows a CEL condition was built from, or null when it is not in the form's shape (then
 * it is edited as CEL text). The empty string is an empty group.
 */
export function parseCel(source: string): Group | null {
  if (source.trim() === "") return { kind: "group", combinator: "all", items: [] };
  const tokens = tokenize(source);
  if (tokens === null) return null;
  try {
    const parser = new Parser(tokens);
    const group = parser.expression();
    if (!parser.done()) return null;
    return group;
  } catch {
    return null;
  }
}
