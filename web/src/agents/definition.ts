/**
 * An agent definition as YAML text, and the edits the designer makes to it.
 *
 * The YAML text is the one source of truth: the graph and the step forms read the parsed
 * definition, and every edit they make is applied to the YAML document (the `yaml` library's
 * Document API), so comments and the author's layout of untouched parts survive an edit.
 * The server checks the definition (`POST /agents/validate`); nothing here duplicates its rules
 * beyond what the editor needs to draw and edit (step ids, kinds, needs).
 */
import { Document, isMap, isSeq, parseDocument, YAMLMap, YAMLSeq } from "yaml";

export const STEP_KINDS = ["rule", "tool", "llm", "human", "agent"] as const;
export type StepKind = (typeof STEP_KINDS)[number];

export interface TaskSpec {
  title?: string;
  assignee?: { user?: string | null; role?: string | null };
  sla?: string;
  on_timeout?: string;
  modifiable?: string[];
  details?: Record<string, unknown>;
}

export interface StepDefinition {
  id: string;
  kind: StepKind;
  title?: string;
  needs?: string[];
  when?: string;
  tool?: string;
  with?: Record<string, unknown>;
  rules?: { when: string; then: Record<string, unknown>; note?: string }[];
  default?: Record<string, unknown>;
  prompt?: string;
  fallback?: string;
  system?: string;
  task?: TaskSpec;
  agent?: string;
  on_error?: { route?: "fail" | "fallback" | "escalate"; value?: unknown; task?: TaskSpec };
  [key: string]: unknown;
}

export interface AgentDefinition {
  name?: string;
  title?: string;
  role?: string;
  description?: string;
  inputs?: Record<string, { type?: string; required?: boolean; description?: string }>;
  reads?: { name: string; object: string; id?: string | null }[];
  tools?: string[];
  steps: StepDefinition[];
  [key: string]: unknown;
}

export type Parsed =
  | { ok: true; definition: AgentDefinition; document: Document }
  | { ok: false; message: string; line: number; column: number; offset: number };

/** The keys only a step of that kind uses (dropped when the kind changes). */
const KIND_KEYS: Record<StepKind, string[]> = {
  rule: ["rules", "hit", "default"],
  tool: ["tool", "with", "compensate"],
  llm: ["system", "prompt", "fallback", "json", "language", "max_tokens"],
  human: ["task"],
  agent: ["agent", "with"],
};

export function isStepKind(value: unknown): value is StepKind {
  return typeof value === "string" && (STEP_KINDS as readonly string[]).includes(value);
}

function asSteps(value: unknown): StepDefinition[] {
  if (!Array.isArray(value)) return [];
  return value.filter(
    (step): step is StepDefinition =>
      typeof step === "object" && step !== null && !Array.isArray(step),
  );
}

/** Parse YAML (JSON is YAML too). A syntax error comes with its line and column (1-based). */
export function parseDefinition(text: string): Parsed {
  const document = parseDocument(text, { prettyErrors: false });
  const error = document.errors[0];
  if (error) {
    const offset = error.pos[0];
    const { line, column } = lineColumn(text, offset);
    return { ok: false, message: error.message.split("\n")[0] ?? error.message, line, column, offset };
  }
  const value: unknown = document.toJS();
  const object = typeof value === "object" && value !== null && !Array.isArray(value) ? value : {};
  const definition = { ...(object as Record<string, unknown>) } as AgentDefinition;
  definition.steps = asSteps((object as Record<string, unknown>).steps);
  return { ok: true, definition, document };
}

export function lineColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, Math.max(0, Math.min(offset, text.length)));
  const lines = before.split("\n");
  return { line: lines.length, column: (lines.at(-1)?.length ?? 0) + 1 };
}

export function toYaml(value: unknown): string {
  return new Document(value).toString({ lineWidth: 0 });
}

/** Apply an edit to the YAML document of `text`; the text unchanged if it does not parse. */
export function editYaml(text: string, edit: (document: Document) => void): string {
  const parsed = parseDocument(text);
  if (parsed.errors.length > 0) return text;
  const document: Document = parsed;
  if (!isMap(document.contents)) document.contents = document.createNode({});
  edit(document);
  return document.toString({ lineWidth: 0 });
}

function stepIndex(document: Document, id: string): number {
  const steps = document.get("steps");
  if (!isSeq(steps)) return -1;
  return steps.items.findIndex((item) => isMap(item) && item.get("id") === id);
}

function stepIds(document: Document): string[] {
  const steps = document.get("steps");
  if (!isSeq(steps)) return [];
  return steps.items.map((item) => {
    const id = isMap(item) ? item.get("id") : null;
    return typeof id === "string" ? id : "";
  });
}

/** The fields a new step of `kind` starts with, so it is complete enough to check. */
export function stepTemplate(kind: StepKind, id: string, tools: readonly string[] = []): StepDefinition {
  switch (kind) {
    case "rule":
      return { id, kind, rules: [{ when: "true", then: { result: "ok" } }], default: { result: "none" } };
    case "tool":
      return { id, kind, tool: tools[0] ?? "", with: {} };
    case "llm":
      return { id, kind, prompt: "Summarise the findings.", fallback: "No summary." };
    case "human":
      return { id, kind, task: { title: "Approve", assignee: { role: "admin" }, sla: "4h" } };
    case "agent":
      return { id, kind, agent: "", with: {} };
  }
}

/** A step id not used yet: `<kind>`, `<kind>_2`, … */
export function freshStepId(existing: readonly string[], kind: StepKind): string {
  if (!existing.includes(kind)) return kind;
  for (let n = 2; ; n += 1) {
    const id = `${kind}_${n}`;
    if (!existing.includes(id)) return id;
  }
}

export function addStep(text: string, kind: StepKind, tools: readonly string[] = [], after?: string): {
  text: string;
  id: string;
} {
  let id = kind as string;
  const next = editYaml(text, (document) => {
    id = freshStepId(stepIds(document), kind);
    const step: StepDefinition = stepTemplate(kind, id, tools);
    if (after && stepIds(document).includes(after)) step.needs = [after];
    const node = document.createNode(step) as YAMLMap;
    const steps = document.get("steps");
    if (isSeq(steps)) steps.items.push(node);
    else document.set("steps", document.createNode([step]));
  });
  return { text: next, id };
}

/** Remove a step and every `needs` entry naming it. */
export function removeStep(text: string, id: string): string {
  return editYaml(text, (document) => {
    const index = stepIndex(document, id);
    if (index < 0) return;
    document.deleteIn(["steps", index]);
    const steps = document.get("steps");
    if (!isSeq(steps)) return;
    for (const item of steps.items) {
      if (!isMap(item)) continue;
      const needs = item.get("needs");
      if (!isSeq(needs)) continue;
      needs.items = needs.items.filter((need) => scalarValue(need) !== id);
      if (needs.items.length === 0) item.delete("needs");
    }
  });
}

/** Change a step's kind: the old kind's fields go, the new kind's template fields come. */
export function setStepKind(text: string, id: string, kind: StepKind, tools: readonly string[] = []): string {
  return editYaml(text, (document) => {
    const index = stepIndex(document, id);
    const step = document.getIn(["steps", index]);
    if (index < 0 || !isMap(step)) return;
    const old = step.get("kind");
    if (old === kind) return;
    if (isStepKind(old)) for (const key of KIND_KEYS[old]) step.delete(key);
    step.set("kind", kind);
    const template = stepTemplate(kind, id, tools);
    for (const [key, value] of Object.entries(template)) {
      if (key === "id" || key === "kind") continue;
      step.set(key, document.createNode(value));
    }
  });
}

/**
 * Set (or, with undefined or "", remove) a value inside a step: `path` below the step, e.g.
 * ["tool"], ["task", "assignee", "role"].
 */
export function setStepValue(text: string, id: string, path: (string | number)[], value: unknown): string {
  return editYaml(text, (document) => {
    const index = stepIndex(document, id);
    if (index < 0) return;
    const full = ["steps", index, ...path];
    if (value === undefined || value === "") document.deleteIn(full);
    else document.setIn(full, document.createNode(value));
  });
}

/** Rename a step, and the `needs` entries naming it. */
export function renameStep(text: string, id: string, next: string): string {
  return editYaml(text, (document) => {
    const index = stepIndex(document, id);
    if (index < 0 || next === id || next === "") return;
    document.setIn(["steps", index, "id"], next);
    const steps = document.get("steps");
    if (!isSeq(steps)) return;
    for (const item of steps.items) {
      const needs = isMap(item) ? item.get("needs") : null;
      if (!isSeq(needs)) continue;
      needs.items = needs.items.map((need) => (scalarValue(need) === id ? document.createNode(next) : need));
    }
  });
}

function scalarValue(node: unknown): unknown {
  return typeof node === "object" && node !== null && "value" in node ? node.value : node;
}

/** Add or remove `need` from a step's `needs` (a flow list, as authors write it). */
export function toggleNeed(text: string, id: string, need: string): string {
  return editYaml(text, (document) => {
    const index = stepIndex(document, id);
    const step = document.getIn(["steps", index]);
    if (index < 0 || !isMap(step) || need === id) return;
    const needs = step.get("needs");
    const current = isSeq(needs) ? needs.items.map((n) => String(scalarValue(n))) : [];
    const next = current.includes(need) ? current.filter((n) => n !== need) : [...current, need];
    if (next.length === 0) {
      step.delete("needs");
      return;
    }
    const node = document.createNode(next) as YAMLSeq;
    node.flow = true;
    step.set("needs", node);
  });
}

/** Set the agent's `tools` list to include `tool` (a tool step may call only granted tools). */
export function grantTool(text: string, tool: string): string {
  return editYaml(text, (document) => {
    const tools = document.get("tools");
    const current = isSeq(tools) ? tools.items.map((n) => String(scalarValue(n))) : [];
    if (current.includes(tool) || tool === "") return;
    const node = document.createNode([...current, tool]) as YAMLSeq;
    node.flow = true;
    document.set("tools", node);
  });
}

export const BLANK_AGENT = `name: new_agent
title: New agent
role: sales
description: ""
inputs:
  account: {type: string, required: true, description: the account's id}
reads:
  - {name: account, object: account, id: inputs.account}
grants:
  account: [name]
steps:
  - id: decide
    kind: rule
    rules:
      - {when: "reads.account.name != ''", then: {decision: review}}
    default: {decision: skip}
outputs:
  value:
    decision: {cel: steps.decide.decision}
`;
