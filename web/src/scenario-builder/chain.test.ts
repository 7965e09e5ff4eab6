import { describe, expect, it } from "vitest";
import { chainFlow, insertStep, moveStep, removeStep, uniqueStepId, updateStep } from "./chain";
import { blankDefinition, fromYaml, toYaml, yamlRange, type Definition } from "./definition";

const definition = (): Definition => ({
  ...blankDefinition(),
  name: "x",
  title: "X",
  then: [
    { id: "ticket", action: "create_ticket", with: { subject: "s" } },
    { id: "tell", action: "notify", with: { role: "service", title: "t" } },
  ],
});

describe("THEN chain edits", () => {
  it("adds, moves and removes steps by pointer", () => {
    let d = insertStep(definition(), "/then", 1, { id: "wait", action: "wait", with: { for: "1h" } });
    expect(d.then.map((s) => s.id)).toEqual(["ticket", "wait", "tell"]);
    d = moveStep(d, "/then/1", 1);
    expect(d.then.map((s) => s.id)).toEqual(["ticket", "tell", "wait"]);
    expect(moveStep(d, "/then/0", -1).then.map((s) => s.id)).toEqual(["ticket", "tell", "wait"]);
    d = removeStep(d, "/then/0");
    expect(d.then.map((s) => s.id)).toEqual(["tell", "wait"]);
  });

  it("edits nested branch steps without touching the original", () => {
    const original = definition();
    const branched = insertStep(original, "/then", 2, { id: "vip", if: "true", then: [], else: [] });
    const filled = insertStep(branched, "/then/2/else", 0, { id: "flag", action: "notify", with: {} });
    const renamed = updateStep(filled, "/then/2/else/0", (s) => ({ ...s, id: "flagged" }));
    expect(renamed.then[2]?.else?.[0]?.id).toBe("flagged");
    expect(filled.then[2]?.else?.[0]?.id).toBe("flag");
    expect(original.then).toHaveLength(2);
  });

  it("makes unique identifiers", () => {
    expect(uniqueStepId(definition(), "create_ticket")).toBe("create_ticket");
    expect(uniqueStepId(definition(), "ticket")).toBe("ticket_2");
    expect(uniqueStepId(definition(), "9 Bad-Name")).toBe("bad_name");
  });
});

describe("THEN chain as a flow", () => {
  it("draws a straight chain from the trigger", () => {
    const { nodes, edges } = chainFlow(definition(), "iot.device.fault");
    expect(nodes.map((n) => [n.id, n.kind, n.label, n.x, n.y])).toEqual([
      ["when", "start", "iot.device.fault", 0, 0],
      ["/then/0", "action", "ticket", 0, 110],
      ["/then/1", "action", "tell", 0, 220],
    ]);
    expect(edges.map((e) => [e.source, e.target, e.kind])).toEqual([
      ["/then/0", "/then/1", "next"],
      ["when", "/then/0", "next"],
    ]);
  });

  it("draws branches side by side, joins them, and recovery steps to the right", () => {
    const d: Definition = {
      ...definition(),
      then: [
        { id: "care", if: "account != null", then: [{ id: "ticket", action: "create_ticket" }], else: [{ id: "flag", action: "notify" }] },
        { id: "after", action: "notify", on_failure: [{ id: "undo", action: "release_inventory" }] },
      ],
    };
    const { nodes, edges } = chainFlow(d, "start");
    const at = Object.fromEntries(nodes.map((n) => [n.id, [n.x, n.y]]));
    expect(at["/then/0"]).toEqual([0, 110]);
    expect(at["/then/0/then/0"]).toEqual([0, 220]);
    expect(at["/then/0/else/0"]).toEqual([260, 220]);
    expect(at["/then/1"]).toEqual([0, 330]);
    // Recovery steps go right of every column used above, so they never overlap a branch.
    expect(at["/then/1/on_failure/0"]).toEqual([520, 330]);
    const kinds = edges.map((e) => `${e.source}>${e.target}:${e.kind}`);
    expect(kinds).toEqual(
      expect.arrayContaining([
        "/then/0>/then/0/then/0:then",
        "/then/0>/then/0/else/0:else",
        "/then/0/then/0>/then/1:next",
        "/then/0/else/0>/then/1:next",
        "/then/1>/then/1/on_failure/0:failure",
      ]),
    );
  });

  it("lets a branch without else continue past it", () => {
    const d: Definition = { ...definition(), then: [{ id: "b", if: "true", then: [{ id: "x", action: "notify" }] }, { id: "y", action: "notify" }] };
    const sources = chainFlow(d, "s").edges.filter((e) => e.target === "/then/1").map((e) => e.source);
    expect(sources.sort()).toEqual(["/then/0", "/then/0/then/0"]);
  });
});

describe("YAML ⇄ model", () => {
  it("round-trips a definition", () => {
    const d = { ...definition(), and: [{ cel: 'event.data.severity in ["major"]', description: "big" }] };
    const read = fromYaml(toYaml(d));
    expect(read).toEqual({ ok: true, value: d });
  });

  it("reports a syntax error with its position and keeps no half-read value", () => {
    const read = fromYaml("name: x\nwhen: [unclosed\n");
    expect(read.ok).toBe(false);
    if (!read.ok) expect(read.problems[0]?.from).toBeGreaterThan(0);
  });

  it("refuses YAML that is not a mapping", () => {
    expect(fromYaml("- a\n- b\n").ok).toBe(false);
  });

  it("finds where a pointer is in the text", () => {
    const text = toYaml(definition());
    const range = yamlRange(text, "/then/1/with/role");
    expect(range && text.slice(range.from, range.to)).toBe("service");
    expect(range?.line).toBe(text.split("\n").findIndex((l) => l.includes("role: service")) + 1);
    // A missing key marks the deepest node that exists.
    const missing = yamlRange(text, "/then/1/with/message");
    expect(missing && text.slice(missing.from, missing.to)).toContain("role: service");
  });
});
