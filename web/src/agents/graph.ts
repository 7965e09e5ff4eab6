/**
 * The agent's steps as a graph, laid out left → right by dependency depth: a step's column is
 * the length of the longest `needs` chain before it, so parallel branches share a column and a
 * join sits right of every branch it waits for. Within a column, steps keep definition order.
 */
import type { StepDefinition, StepKind } from "./definition";

export const COLUMN_WIDTH = 240;
export const ROW_HEIGHT = 120;

export interface StepNode {
  id: string;
  kind: StepKind;
  title: string;
  depth: number;
  row: number;
  x: number;
  y: number;
  /** `when` guard: the step may be skipped. */
  conditional: boolean;
  /** Where a failure goes: fail (default), fallback, escalate (to a person). */
  onError: "fail" | "fallback" | "escalate";
  /** What the step calls: a tool, an agent, or a task's assignee. */
  detail: string | null;
}

export interface NeedEdge {
  id: string;
  source: string;
  target: string;
  /** The target has a `when` guard. */
  conditional: boolean;
}

export interface StepGraph {
  nodes: StepNode[];
  edges: NeedEdge[];
  /** Steps that wait for each other in a loop (the server refuses the definition). */
  cycle: string[];
}

function detailOf(step: StepDefinition): string | null {
  switch (step.kind) {
    case "tool":
      return step.tool ?? null;
    case "agent":
      return step.agent ?? null;
    case "human": {
      const assignee = step.task?.assignee;
      return assignee?.user ?? assignee?.role ?? null;
    }
    default:
      return null;
  }
}

export function stepGraph(steps: readonly StepDefinition[]): StepGraph {
  const ids = new Set(steps.map((s) => s.id));
  const needs = new Map(
    steps.map((s) => [s.id, (Array.isArray(s.needs) ? s.needs : []).filter((n) => ids.has(n))]),
  );
  const depth = new Map<string, number>();
  const visiting = new Set<string>();
  const cycle = new Set<string>();

  const depthOf = (id: string): number => {
    const known = depth.get(id);
    if (known !== undefined) return known;
    if (visiting.has(id)) {
      cycle.add(id);
      return 0;
    }
    visiting.add(id);
    let value = 0;
    for (const need of needs.get(id) ?? []) value = Math.max(value, depthOf(need) + 1);
    visiting.delete(id);
    depth.set(id, value);
    return value;
  };

  const rows = new Map<number, number>();
  const nodes: StepNode[] = [];
  for (const step of steps) {
    if (typeof step.id !== "string" || step.id === "") continue;
    const d = depthOf(step.id);
    const row = rows.get(d) ?? 0;
    rows.set(d, row + 1);
    const route = step.on_error?.route;
    nodes.push({
      id: step.id,
      kind: step.kind,
      title: typeof step.title === "string" && step.title ? step.title : step.id,
      depth: d,
      row,
      x: d * COLUMN_WIDTH,
      y: row * ROW_HEIGHT,
      conditional: typeof step.when === "string" && step.when !== "",
      onError: route === "fallback" || route === "escalate" ? route : "fail",
      detail: detailOf(step),
    });
  }
  const guarded = new Set(nodes.filter((n) => n.conditional).map((n) => n.id));
  const edges: NeedEdge[] = [];
  for (const [target, sources] of needs) {
    for (const source of sources) {
      edges.push({ id: `${source}->${target}`, source, target, conditional: guarded.has(target) });
    }
  }
  return { nodes, edges, cycle: [...cycle] };
}

/** The steps a step may need: every other step that does not (transitively) need it. */
export function possibleNeeds(steps: readonly StepDefinition[], id: string): string[] {
  const dependants = new Set<string>([id]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const step of steps) {
      if (dependants.has(step.id)) continue;
      if ((step.needs ?? []).some((n) => dependants.has(n))) {
        dependants.add(step.id);
        grew = true;
      }
    }
  }
  return steps.map((s) => s.id).filter((s) => !dependants.has(s));
}
