import { describe, expect, it } from "vitest";
import type { StepDefinition } from "./definition";
import { COLUMN_WIDTH, possibleNeeds, ROW_HEIGHT, stepGraph } from "./graph";

const STEPS: StepDefinition[] = [
  { id: "compliance", kind: "agent", agent: "compliance_check" },
  { id: "inventory", kind: "agent", agent: "inventory_check" },
  { id: "join", kind: "rule", needs: ["compliance", "inventory"] },
  { id: "approval", kind: "human", needs: ["join"], when: "steps.join.x", task: { assignee: { role: "compliance" } } },
  { id: "summary", kind: "llm", needs: ["join", "approval"], on_error: { route: "fallback" } },
];

describe("the step graph", () => {
  it("lays out parallel branches in one column and a join right of them", () => {
    const graph = stepGraph(STEPS);
    const at = Object.fromEntries(graph.nodes.map((n) => [n.id, [n.depth, n.row]]));
    expect(at).toEqual({ compliance: [0, 0], inventory: [0, 1], join: [1, 0], approval: [2, 0], summary: [3, 0] });
    const inventory = graph.nodes.find((n) => n.id === "inventory");
    expect([inventory?.x, inventory?.y]).toEqual([0, ROW_HEIGHT]);
    expect(graph.nodes.find((n) => n.id === "summary")?.x).toBe(3 * COLUMN_WIDTH);
  });

  it("draws needs as edges, dashed into a guarded step, and marks details and error routes", () => {
    const graph = stepGraph(STEPS);
    expect(graph.edges.map((e) => [e.id, e.conditional])).toEqual([
      ["compliance->join", false],
      ["inventory->join", false],
      ["join->approval", true],
      ["join->summary", false],
      ["approval->summary", false],
    ]);
    const approval = graph.nodes.find((n) => n.id === "approval");
    expect([approval?.detail, approval?.conditional]).toEqual(["compliance", true]);
    expect(graph.nodes.find((n) => n.id === "summary")?.onError).toBe("fallback");
    expect(graph.nodes.find((n) => n.id === "compliance")?.detail).toBe("compliance_check");
  });

  it("ignores unknown needs and survives a cycle, naming it", () => {
    const graph = stepGraph([
      { id: "a", kind: "rule", needs: ["b", "ghost"] },
      { id: "b", kind: "rule", needs: ["a"] },
    ]);
    expect(graph.nodes).toHaveLength(2);
    expect(graph.edges.map((e) => e.id).sort()).toEqual(["a->b", "b->a"]);
    expect(graph.cycle.length).toBeGreaterThan(0);
  });

  it("offers as needs only steps that do not already depend on the step", () => {
    expect(possibleNeeds(STEPS, "join")).toEqual(["compliance", "inventory"]);
    expect(possibleNeeds(STEPS, "summary")).toEqual(["compliance", "inventory", "join", "approval"]);
  });
});
