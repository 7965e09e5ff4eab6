import { describe, expect, it } from "vitest";
import { llmOutput, proofState, ruleRows, toolCall, waterfall } from "./trace";

const step = (name: string, start: number | null, finish: number | null, status = "succeeded") => ({
  step: name,
  kind: "rule",
  status,
  started_at: start,
  finished_at: finish,
  duration_ms: start !== null && finish !== null ? (finish - start) * 1000 : null,
});

describe("the decision trace", () => {
  it("places each step's bar against the run's span; a waiting step runs to now", () => {
    const { bars, spanMs } = waterfall(
      [step("a", 100, 101), step("b", 100.5, 102), step("wait", 102, null, "waiting"), step("skip", null, null, "skipped")],
      104,
    );
    expect(spanMs).toBe(4000);
    expect(bars.map((b) => [b.step.step, b.offset, b.width, b.startMs, b.open])).toEqual([
      ["a", 0, 25, 0, false],
      ["b", 12.5, 37.5, 500, false],
      ["wait", 50, 50, 2000, true],
    ]);
    expect(waterfall([], 1).bars).toEqual([]);
  });

  it("gives an instant step a visible sliver", () => {
    const { bars } = waterfall([step("a", 100, 110), step("b", 105, 105)], 200);
    expect(bars[1]?.width).toBeGreaterThan(0);
  });

  it("reads an LLM output with its AIGC label, or the fallback's reason", () => {
    const labelled = llmOutput(
      { text: "[AI-generated] Hi", body: "Hi", label: "[AI-generated]", metadata: { aigc: true, provider: "p", model: "m" } },
      {},
    );
    expect(labelled).toMatchObject({ aiGenerated: true, label: "[AI-generated]", provider: "p", model: "m", fallbackReason: null });
    const fallback = llmOutput(
      { text: "Hi", body: "Hi", label: null, metadata: { aigc: false, reason: "no LLM is configured" } },
      { fallback: "no LLM is configured" },
    );
    expect(fallback).toMatchObject({ aiGenerated: false, fallbackReason: "no LLM is configured" });
    expect(llmOutput(null, {})).toBeNull();
  });

  it("reads rule rows, tool calls and the proof state", () => {
    expect(ruleRows({ rules: [{ row: 0, when: "x", value: false }, { row: 1, when: "y", value: true }], matched: [1] })).toEqual({
      rows: [
        { row: 0, when: "x", value: false },
        { row: 1, when: "y", value: true },
      ],
      matched: [1],
    });
    expect(ruleRows({ rules: [], matched: "default" }).matched).toBe("default");
    expect(toolCall({ a: 1 }, { b: 2 }, { tool: { name: "crm.work_orders", system: "crm", version: "1" } })).toEqual({
      name: "crm.work_orders",
      system: "crm",
      version: "1",
      request: { a: 1 },
      response: { b: 2 },
    });
    expect(proofState({ intact: true }, false)).toBe("verified");
    expect(proofState({ intact: false }, false)).toBe("failed");
    expect(proofState(null, true)).toBe("pending");
    expect(proofState(null, false)).toBeNull();
  });
});
