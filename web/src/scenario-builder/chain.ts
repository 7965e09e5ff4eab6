/**
 * The THEN chain: steps addressed by JSON Pointer (`/then/0`, `/then/1/else/0`,
 * `/then/0/on_failure/0`), edited immutably (add, remove, move, change), and drawn as a flow
 * of nodes and edges for @xyflow/react: the steps top-down in order, a branch's `then` below
 * it and its `else` beside, a step's recovery steps (`on_failure`) to the right.
 */
import { asArray, isObject, pointerTokens, type Definition, type StepDef } from "./definition";

export type StepList = "then" | "else" | "on_failure";

// -- immutable edits ----------------------------------------------------------------------------

function updateIn(value: unknown, tokens: string[], change: (current: unknown) => unknown): unknown {
  if (tokens.length === 0) return change(value);
  const [head, ...rest] = tokens as [string, ...string[]];
  if (Array.isArray(value)) {
    const copy = [...(value as unknown[])];
    copy[Number(head)] = updateIn(copy[Number(head)], rest, change);
    return copy;
  }
  const object = isObject(value) ? value : {};
  return { ...object, [head]: updateIn(object[head], rest, change) };
}

export function getIn(value: unknown, pointer: string): unknown {
  let current = value;
  for (const token of pointerTokens(pointer)) {
    if (Array.isArray(current)) current = (current as unknown[])[Number(token)];
    else if (isObject(current)) current = current[token];
    else return undefined;
  }
  return current;
}

/** The definition with the value at `pointer` replaced by `change(current)`. */
export function updateAt<T>(definition: T, pointer: string, change: (current: unknown) => unknown): T {
  return updateIn(definition, pointerTokens(pointer), change) as T;
}

/** `/then/1/else/0` → [`/then/1/else`, 0]. */
export function splitStepPointer(pointer: string): [string, number] {
  const at = pointer.lastIndexOf("/");
  return [pointer.slice(0, at), Number(pointer.slice(at + 1))];
}

export function insertStep(definition: Definition, listPointer: string, index: number, step: StepDef): Definition {
  return updateAt(definition, listPointer, (list) => {
    const steps = [...asArray<StepDef>(list)];
    steps.splice(Math.max(0, Math.min(index, steps.length)), 0, step);
    return steps;
  });
}

export function removeStep(definition: Definition, pointer: string): Definition {
  const [listPointer, index] = splitStepPointer(pointer);
  return updateAt(definition, listPointer, (list) => asArray<StepDef>(list).filter((_, i) => i !== index));
}

/** Move a step up (-1) or down (+1) within its list; unchanged at either end. */
export function moveStep(definition: Definition, pointer: string, delta: -1 | 1): Definition {
  const [listPointer, index] = splitStepPointer(pointer);
  return updateAt(definition, listPointer, (list) => {
    const steps = [...asArray<StepDef>(list)];
    const target = index + delta;
    if (target < 0 || target >= steps.length) return steps;
    const [moved] = steps.splice(index, 1);
    if (moved !== undefined) steps.splice(target, 0, moved);
    return steps;
  });
}

export function updateStep(definition: Definition, pointer: string, change: (step: StepDef) => StepDef): Definition {
  return updateAt(definition, pointer, (step) => change((isObject(step) ? step : { id: "" }) as StepDef));
}

/** Every step id used anywhere in the chain. */
export function stepIds(steps: unknown): string[] {
  const ids: string[] = [];
  const visit = (list: unknown) => {
    for (const step of asArray<unknown>(list)) {
      if (!isObject(step)) continue;
      if (typeof step.id === "string") ids.push(step.id);
      visit(step.then);
      visit(step.else);
      visit(step.on_failure);
    }
  };
  visit(steps);
  return ids;
}

/** `base`, or `base_2`, `base_3` … whichever is not taken (step ids are identifiers). */
export function uniqueStepId(definition: Definition, base: string): string {
  const taken = new Set(stepIds(definition.then));
  const clean = base.toLowerCase().replace(/[^a-z0-9_]/g, "_").replace(/^[^a-z]+/, "") || "step";
  if (!taken.has(clean)) return clean;
  for (let n = 2; ; n++) if (!taken.has(`${clean}_${n}`)) return `${clean}_${n}`;
}

export function isBranch(step: StepDef): boolean {
  return typeof step.if === "string" || (step.action === undefined && Array.isArray(step.then));
}

// -- the flow -----------------------------------------------------------------------------------

export const COLUMN_WIDTH = 260;
export const ROW_HEIGHT = 110;
export const START = "when";

export interface ChainNode {
  /** The step's pointer (or START). */
  id: string;
  kind: "start" | "action" | "branch";
  label: string;
  action: string;
  x: number;
  y: number;
}

export interface ChainEdge {
  id: string;
  source: string;
  target: string;
  kind: "next" | "then" | "else" | "failure";
}

interface Placed {
  bottom: number;
  right: number;
  exits: string[];
  first: string | null;
}

/** Nodes and edges of the chain (positions in pixels; the flow view fits them). */
export function chainFlow(definition: Definition, startLabel: string): { nodes: ChainNode[]; edges: ChainEdge[] } {
  const nodes: ChainNode[] = [{ id: START, kind: "start", label: startLabel, action: "", x: 0, y: 0 }];
  const edges: ChainEdge[] = [];
  const edge = (source: string, target: string, kind: ChainEdge["kind"]) => {
    edges.push({ id: `${source}->${target}:${kind}`, source, target, kind });
  };

  const place = (list: unknown, pointer: string, column: number, row: number): Placed => {
    let bottom = row;
    let right = column;
    let exits: string[] = [];
    let first: string | null = null;
    asArray<unknown>(list).forEach((raw, index) => {
      const step = (isObject(raw) ? raw : { id: "" }) as StepDef;
      const id = `${pointer}/${index}`;
      const branch = isBranch(step);
      nodes.push({
        id,
        kind: branch ? "branch" : "action",
        label: typeof step.id === "string" ? step.id : "",
        action: typeof step.action === "string" ? step.action : "",
        x: column * COLUMN_WIDTH,
        y: bottom * ROW_HEIGHT,
      });
      first ??= id;
      for (const exit of exits) edge(exit, id, "next");
      const here = bottom;
      let next = here + 1;
      exits = [id];
      if (branch) {
        const yes = place(step.then, `${id}/then`, column, here + 1);
        const no = place(step.else, `${id}/else`, Math.max(yes.right, column) + 1, here + 1);
        if (yes.first) edge(id, yes.first, "then");
        if (no.first) edge(id, no.first, "else");
        exits = [...(yes.first ? yes.exits : [id]), ...(no.first ? no.exits : yes.first ? [id] : [])];
        next = Math.max(yes.bottom, no.bottom, here + 1);
        right = Math.max(right, yes.right, no.first ? no.right : column);
      }
      if (Array.isArray(step.on_failure) && step.on_failure.length > 0) {
        const failure = place(step.on_failure, `${id}/on_failure`, right + 1, here);
        if (failure.first) edge(id, failure.first, "failure");
        right = Math.max(right, failure.right);
        next = Math.max(next, failure.bottom);
      }
      bottom = next;
    });
    return { bottom, right, exits, first };
  };

  const placed = place(definition.then, "/then", 0, 1);
  if (placed.first) edge(START, placed.first, "next");
  return { nodes, edges };
}

/** A JSON Pointer token: `~` → `~0`, `/` → `~1`. */
export function escapePointer(token: string): string {
  return token.replace(/~/g, "~0").replace(/\//g, "~1");
}
