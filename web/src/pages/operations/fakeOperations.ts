/** Fake answers of the operations endpoints for the page tests (on top of fakeKindred). */
import type {
  DeadLetterDetail,
  RunDetail,
  RunSummary,
  ScenarioHealth,
  ScenarioSummary,
  StoredEvent,
} from "../../api/operations";
import { json, problem, type Call } from "../../test/server";

export const scenario: ScenarioSummary = {
  name: "device-fault-service-chain",
  title: "Device fault → dispatch",
  version: 2,
  enabled: true,
  updated_at: "2026-12-07T09:00:00+00:00",
  updated_by: null,
  owner: "u-admin",
  run_as: "u-auto",
  enabled_by: "u-admin",
  definition: {},
};

export const health: ScenarioHealth = {
  scenario: scenario.name,
  since: "2026-11-30T10:00:00+00:00",
  runs: 5,
  in_progress: 1,
  succeeded: 3,
  failed: 1,
  success_rate: 0.75,
  latency_ms: { p50: 420, p99: 1830 },
  failure_reasons: { "connector-unavailable": 1 },
  business_impact: { measure: "order_value", value: 125000, runs: 3 },
  bucket_seconds: 21600,
  buckets: [
    { start: "2026-12-07T00:00:00+00:00", succeeded: 2, failed: 1, in_progress: 0 },
    { start: "2026-12-07T06:00:00+00:00", succeeded: 1, failed: 0, in_progress: 1 },
  ],
  last_failure: { at: "2026-12-07T03:00:00+00:00", step: "spare_part", error_code: "connector-unavailable" },
};

export function run(id: string, status: RunSummary["status"]): RunSummary {
  return {
    id,
    scenario: scenario.name,
    version: 2,
    status,
    key: "CT-0042",
    event: { id: `e-${id}`, type: "iot.device.fault" },
    chain_depth: 0,
    started_at: "2026-12-07T08:00:00+00:00",
    finished_at: "2026-12-07T08:00:01+00:00",
    duration_ms: 950,
    error: status === "failed" ? "step spare_part failed: the ERP did not answer" : null,
  };
}

export const runDetail: RunDetail = {
  ...run("run-failed-1", "failed"),
  run_as: "u-auto",
  event: { specversion: "1.0", id: "e-1", source: "urn:plant", type: "iot.device.fault", data: { code: "E42" } },
  variables: {},
  next_attempt_at: null,
  steps: [
    {
      id: "work_order",
      pointer: "/then/0",
      action: "create_ticket",
      status: "succeeded",
      attempts: 1,
      input: { subject: "CRITICAL fault E42" },
      output: { id: "t-1" },
      error: null,
      error_code: null,
      started_at: "2026-12-07T08:00:00+00:00",
      finished_at: "2026-12-07T08:00:00+00:00",
    },
    {
      id: "spare_part",
      pointer: "/then/1",
      action: "reserve_inventory",
      status: "failed",
      attempts: 3,
      input: { withheld: "this run acted with rights you do not have" },
      output: null,
      error: "the ERP did not answer",
      error_code: "connector-unavailable",
      started_at: "2026-12-07T08:00:00+00:00",
      finished_at: "2026-12-07T08:00:01+00:00",
    },
  ],
};

export const letter: DeadLetterDetail = {
  id: "dl-1",
  received_at: "2026-12-07T08:30:00+00:00",
  channel: "http",
  reason: "schema_violation",
  detail: "data.severity: 'catastrophic' is not one of the allowed values",
  errors: [{ path: "/data/severity", code: "enum", message: "'catastrophic' is not allowed" }],
  event_type: "iot.device.fault",
  event_id: "bad-fault-1",
  event_source: "urn:plant",
  payload_bytes: 120,
  truncated: false,
  status: "open",
  attempts: 0,
  resolved_at: null,
  resolved_by: null,
  resolution: null,
  content_type: "application/cloudevents+json",
  context: null,
  payload_redacted: false,
  payload: '{"specversion":"1.0","id":"bad-fault-1","source":"urn:plant","type":"iot.device.fault","data":{"severity":"catastrophic"}}',
  payload_encoding: "utf-8",
};

export function storedEvent(position: string, type = "iot.device.fault"): StoredEvent {
  return {
    position,
    partition: 3,
    stored_at: "2026-12-07T08:45:00+00:00",
    event: { specversion: "1.0", id: `ev-${position}`, source: "urn:plant", type, partitionkey: "CT-0042", data: { code: "E42" } },
  };
}

/** An event stream body: the frames given, then it stays open (as the server's does). */
export function eventStream(frames: string[]): Response {
  const encoder = new TextEncoder();
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const frame of frames) controller.enqueue(encoder.encode(frame));
    },
  });
  return new Response(body, { status: 200, headers: { "Content-Type": "text/event-stream" } });
}

export function frame(event: string, data: unknown, id?: string): string {
  return `event: ${event}\n${id ? `id: ${id}\n` : ""}data: ${JSON.stringify(data)}\n\n`;
}

/** The operations endpoints, with a dead letter that can be fixed, replayed and discarded. */
export function operationsRoutes(options: { letterStatus?: number } = {}) {
  const state = { letter: { ...letter }, runs: [run("run-ok-1", "succeeded"), run("run-failed-1", "failed")] };
  const handler = (call: Call): Response | undefined => {
    const { method, path } = call;
    if (method === "GET" && path === "/api/v1/scenarios") return json({ data: [scenario] });
    if (method === "GET" && path === `/api/v1/scenarios/${scenario.name}/health`) return json(health);
    if (method === "GET" && path === "/api/v1/scenario-runs") return json({ data: state.runs, next_cursor: null });
    if (method === "GET" && path === "/api/v1/scenario-runs/run-failed-1") return json(runDetail);
    if (method === "POST" && path === "/api/v1/scenario-runs/run-failed-1/retry") {
      return json({ run: "run-failed-1", status: "running" });
    }
    if (method === "GET" && path === "/api/v1/dead-letters") {
      const detailOnly = new Set(["payload", "content_type", "context", "payload_redacted", "payload_encoding"]);
      const listed = Object.fromEntries(Object.entries(state.letter).filter(([k]) => !detailOnly.has(k)));
      return json({ data: [listed], next_cursor: null, counts: { [state.letter.status]: 1 } });
    }
    if (path.startsWith("/api/v1/dead-letters/dl-1")) {
      if (options.letterStatus) return problem(options.letterStatus, { title: "Permission denied", detail: "managing dead letters needs one of the roles: admin, integration" });
      if (method === "GET") return json(state.letter);
      if (method === "PATCH") {
        const body = JSON.parse(call.body) as { payload: unknown };
        state.letter = { ...state.letter, payload: JSON.stringify(body.payload) };
        return json(state.letter);
      }
      if (method === "POST" && path.endsWith("/replay")) {
        state.letter = { ...state.letter, status: "replayed", resolution: "stored at 17" };
        return json({
          dead_letter: "dl-1",
          status: "replayed",
          stored: 1,
          duplicates: 0,
          events: [{ index: 0, id: "bad-fault-1", source: "urn:plant", type: "iot.device.fault", position: "17", duplicate: false }],
        });
      }
    }
    return undefined;
  };
  return { handler, state };
}
