import { describe, expect, it } from "vitest";
import {
  addStep,
  grantTool,
  parseDefinition,
  removeStep,
  renameStep,
  setStepKind,
  setStepValue,
  toggleNeed,
} from "./definition";

const TEXT = `# the agent
name: triage
title: Triage
role: service
steps:
  - id: history # look first
    kind: tool
    tool: crm.work_orders
    with: {account: {cel: reads.account.id}}
  - id: decide
    kind: rule
    needs: [history]
    rules:
      - {when: "true", then: {x: 1}}
`;

function steps(text: string) {
  const parsed = parseDefinition(text);
  if (!parsed.ok) throw new Error(parsed.message);
  return parsed.definition.steps;
}

describe("agent definitions as YAML", () => {
  it("parses steps and reports a syntax error with its line and column", () => {
    expect(steps(TEXT).map((s) => [s.id, s.kind, s.needs ?? []])).toEqual([
      ["history", "tool", []],
      ["decide", "rule", ["history"]],
    ]);
    const broken = parseDefinition("name: x\nsteps: [\n");
    expect(broken.ok).toBe(false);
    if (!broken.ok) expect(broken.line).toBeGreaterThanOrEqual(2);
  });

  it("adds a step of a kind after the chosen one, with a fresh id, keeping comments", () => {
    const { text, id } = addStep(TEXT, "human", [], "decide");
    expect(id).toBe("human");
    const added = steps(text).at(-1);
    expect(added).toMatchObject({ id: "human", kind: "human", needs: ["decide"] });
    expect(added?.task?.assignee).toEqual({ role: "admin" });
    expect(text).toContain("# the agent");
    expect(text).toContain("# look first");
    expect(addStep(text, "human").id).toBe("human_2");
  });

  it("removes a step and every needs entry naming it", () => {
    const text = removeStep(TEXT, "history");
    expect(steps(text).map((s) => s.id)).toEqual(["decide"]);
    expect(steps(text)[0]?.needs).toBeUndefined();
  });

  it("changes a kind: the old kind's fields go, the new kind's come", () => {
    const text = setStepKind(TEXT, "history", "llm");
    const step = steps(text)[0];
    expect(step?.kind).toBe("llm");
    expect(step?.tool).toBeUndefined();
    expect(step?.with).toBeUndefined();
    expect(step?.fallback).toBeTruthy();
  });

  it("toggles a need as a flow list and renames a step with the needs naming it", () => {
    let text = toggleNeed(TEXT, "decide", "history");
    expect(steps(text)[1]?.needs).toBeUndefined();
    text = toggleNeed(text, "decide", "history");
    expect(text).toContain("needs: [ history ]");
    text = renameStep(text, "history", "lookup");
    expect(steps(text).map((s) => [s.id, s.needs ?? []])).toEqual([
      ["lookup", []],
      ["decide", ["lookup"]],
    ]);
    expect(toggleNeed(text, "decide", "decide")).toBe(text);
  });

  it("sets and removes nested values, and grants a tool once", () => {
    let text = setStepValue(TEXT, "decide", ["when"], "inputs.x == 1");
    expect(steps(text)[1]?.when).toBe("inputs.x == 1");
    text = setStepValue(text, "decide", ["when"], "");
    expect(steps(text)[1]?.when).toBeUndefined();
    text = grantTool(grantTool(text, "crm.installed_base"), "crm.installed_base");
    const parsed = parseDefinition(text);
    expect(parsed.ok && parsed.definition.tools).toEqual(["crm.installed_base"]);
  });

  it("leaves text that does not parse unchanged", () => {
    const broken = "steps: [\n";
    expect(removeStep(broken, "x")).toBe(broken);
  });
});
