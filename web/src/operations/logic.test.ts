import { describe, expect, it } from "vitest";
import type { RunBucket, StoredEvent } from "../api/operations";
import { streamMessage } from "../api/operations";
import { runsChartOption } from "./chart";
import { checkJson, editablePayload, latencyParts, parseTypes, percent, withheldReason } from "./format";
import { emptyTail, tailReducerOf } from "./tail";

describe("runsChartOption", () => {
  const buckets: RunBucket[] = [
    { start: "2026-12-07T10:00:00+00:00", succeeded: 3, failed: 1, in_progress: 0 },
    { start: "2026-12-07T11:00:00+00:00", succeeded: 0, failed: 2, in_progress: 1 },
  ];
  const labels = { succeeded: "Succeeded", failed: "Failed", inProgress: "In progress" };

  it("stacks succeeded, failed and in-progress runs per bucket", () => {
    const option = runsChartOption(buckets, 3600, labels, "en");
    expect(option.series.map((s) => [s.name, s.stack, s.data])).toEqual([
      ["Succeeded", "runs", [3, 0]],
      ["Failed", "runs", [1, 2]],
      ["In progress", "runs", [0, 1]],
    ]);
    expect(option.xAxis.data).toHaveLength(2);
    expect(option.legend.data).toEqual(["Succeeded", "Failed", "In progress"]);
    expect(option.aria.enabled).toBe(false);
  });

  it("labels buckets by time of day under a day, by date from a day", () => {
    const hourly = runsChartOption(buckets, 3600, labels, "en").xAxis.data[0] ?? "";
    const daily = runsChartOption(buckets, 86_400, labels, "en").xAxis.data[0] ?? "";
    expect(hourly).toMatch(/\d{2}:\d{2}/);
    expect(daily).toMatch(/2026/);
  });
});

describe("format", () => {
  it("says latencies in ms below a second, in seconds above", () => {
    expect(latencyParts(null)).toBeNull();
    expect(latencyParts(12.4)).toEqual({ unit: "ms", value: "12" });
    expect(latencyParts(1530)).toEqual({ unit: "s", value: "1.53" });
  });

  it("says rates as percentages with one decimal", () => {
    expect(percent(null)).toBeNull();
    expect(percent(0.9951)).toBe("99.5");
    expect(percent(1)).toBe("100.0");
  });

  it("recognises what the run history withheld", () => {
    expect(withheldReason({ withheld: "this run acted with rights you do not have" })).toBe(
      "this run acted with rights you do not have",
    );
    expect(withheldReason({ withheld: "x", other: 1 })).toBeNull();
    expect(withheldReason(["withheld"])).toBeNull();
  });

  it("splits type filters on commas and spaces", () => {
    expect(parseTypes(" iot.*, customer.birthday.upcoming，a.b.c  ")).toEqual([
      "iot.*",
      "customer.birthday.upcoming",
      "a.b.c",
    ]);
    expect(parseTypes("  ")).toEqual([]);
  });

  it("checks JSON and indents a JSON payload for editing", () => {
    expect(checkJson('{"a": 1}')).toEqual({ ok: true, value: { a: 1 } });
    const bad = checkJson('{"a": ');
    expect(bad.ok).toBe(false);
    expect(editablePayload('{"a":1}')).toBe('{\n  "a": 1\n}');
    expect(editablePayload("<xml/>")).toBe("<xml/>");
  });
});

function stored(position: string): StoredEvent {
  return {
    position,
    partition: 0,
    stored_at: "2026-12-07T10:00:00+00:00",
    event: { specversion: "1.0", id: position, source: "urn:t", type: "a.b.c" },
  };
}

describe("the live tail's list", () => {
  const reduce = tailReducerOf(3);

  it("shows the newest first and at most max", () => {
    let state = emptyTail;
    for (const p of ["1", "2", "3", "4"]) state = reduce(state, { kind: "add", event: stored(p) });
    expect(state.shown.map((s) => s.position)).toEqual(["4", "3", "2"]);
  });

  it("holds events back while paused and shows them on resume", () => {
    let state = reduce(emptyTail, { kind: "add", event: stored("1") });
    state = reduce(state, { kind: "pause" });
    state = reduce(state, { kind: "add", event: stored("2") });
    expect(state.shown.map((s) => s.position)).toEqual(["1"]);
    expect(state.held.map((s) => s.position)).toEqual(["2"]);
    state = reduce(state, { kind: "resume" });
    expect(state.shown.map((s) => s.position)).toEqual(["2", "1"]);
    expect(state.paused).toBe(false);
    expect(reduce(state, { kind: "clear" }).shown).toEqual([]);
  });
});

describe("streamMessage", () => {
  it("turns the stream's messages into typed ones and ignores anything else", () => {
    const event = streamMessage({ event: "event", data: JSON.stringify(stored("5")), id: "5", lastEventId: "5" });
    expect(event).toEqual({ event: "event", id: "5", data: stored("5") });
    const ready = streamMessage({ event: "ready", data: '{"at":"x","position":null}', id: null, lastEventId: "" });
    expect(ready).toEqual({ event: "ready", data: { at: "x", position: null } });
    expect(streamMessage({ event: "message", data: "{}", id: null, lastEventId: "" })).toBeNull();
    expect(streamMessage({ event: "event", data: "not json", id: null, lastEventId: "" })).toBeNull();
  });
});
