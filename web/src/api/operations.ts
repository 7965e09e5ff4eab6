/**
 * The operations area's reads and writes, typed by the generated client: scenario health,
 * run history and run detail, dead letters (inspect, fix, replay, discard) and the live tail
 * of the event log (GET /api/v1/events/stream, read with fetch so the bearer header goes
 * with it — see operations/sse.ts).
 */
import { keepPreviousData, useMutation, useQueries, useQuery, useQueryClient } from "@tanstack/react-query";
import { readEventStream, type SseMessage } from "../operations/sse";
import { useApi } from "../session/SessionContext";
import type { Api } from "./client";
import { bodyOf } from "./client";
import { shouldRetry } from "./queries";
import type { components } from "./schema";

type Schemas = components["schemas"];
export type ScenarioSummary = Schemas["ScenarioPublic"];
export type ScenarioHealth = Schemas["ScenarioHealth"];
export type RunBucket = Schemas["RunBucketPublic"];
export type RunSummary = Schemas["ScenarioRunSummary"];
export type RunPage = Schemas["ScenarioRunPage"];
export type RunDetail = Schemas["ScenarioRunDetail"];
export type RunStep = Schemas["ScenarioRunStepPublic"];
export type DeadLetter = Schemas["DeadLetterPublic"];
export type DeadLetterDetail = Schemas["DeadLetterDetail"];
export type DeadLetterList = Schemas["DeadLetterList"];
export type ReplayResult = Schemas["ReplayResult"];
export type StoredEvent = Schemas["StoredEventPublic"];
export type StreamMessage = Schemas["EventStreamMessage"];


/** The periods the dashboard offers, in days (the health endpoint's `days`). */
export const PERIODS = { hour: 1 / 24, day: 1, week: 7, month: 30 } as const;
export type Period = keyof typeof PERIODS;
export function isPeriod(value: unknown): value is Period {
  return typeof value === "string" && value in PERIODS;
}

export type LetterStatus = "open" | "replayed" | "discarded" | "any";
export interface LetterFilter {
  status: LetterStatus;
  reason?: string;
  type?: string;
  channel?: string;
}

export function operationsApi(api: Api) {
  const { client } = api;
  return {
    /** The scenarios whose health and runs the reader may see (owner, team, admin, compliance). */
    scenarios: async () =>
      (await bodyOf(client.GET("/api/v1/scenarios", { params: { query: { observable: true } } })))
        .data,

    health: (name: string, days: number) =>
      bodyOf(
        client.GET("/api/v1/scenarios/{name}/health", {
          params: { path: { name }, query: { days } },
        }),
      ),

    runs: (scenario: string, before?: string | null, limit = 25) =>
      bodyOf(
        client.GET("/api/v1/scenario-runs", {
          params: { query: { scenario, limit, ...(before ? { before } : {}) } },
        }),
      ),

    run: (runId: string) =>
      bodyOf(client.GET("/api/v1/scenario-runs/{run_id}", { params: { path: { run_id: runId } } })),

    retry: (runId: string) =>
      bodyOf(
        client.POST("/api/v1/scenario-runs/{run_id}/retry", { params: { path: { run_id: runId } } }),
      ),

    deadLetters: (filter: LetterFilter, before?: string | null) =>
      bodyOf(
        client.GET("/api/v1/dead-letters", {
          params: {
            query: {
              status: filter.status,
              ...(filter.reason ? { reason: filter.reason } : {}),
              ...(filter.type ? { type: filter.type } : {}),
              ...(filter.channel ? { channel: filter.channel } : {}),
              ...(before ? { before } : {}),
            },
          },
        }),
      ),

    deadLetter: (id: string) =>
      bodyOf(
        client.GET("/api/v1/dead-letters/{letter_id}", { params: { path: { letter_id: id } } }),
      ),

    fix: (id: string, payload: unknown) =>
      bodyOf(
        client.PATCH("/api/v1/dead-letters/{letter_id}", {
          params: { path: { letter_id: id } },
          body: { payload },
        }),
      ),

    replay: (id: string) =>
      bodyOf(
        client.POST("/api/v1/dead-letters/{letter_id}/replay", {
          params: { path: { letter_id: id } },
        }),
      ),

    discard: (id: string, note: string) =>
      bodyOf(
        client.POST("/api/v1/dead-letters/{letter_id}/discard", {
          params: { path: { letter_id: id } },
          body: { note },
        }),
      ),

    /**
     * Open the live tail and read it until the server ends it (resolves) or `signal` aborts
     * (rejects with an AbortError). A refusal (401, 403, 400) is thrown as its ApiProblem.
     */
    async stream(
      filter: { types: string[]; key: string; after: string | null },
      onMessage: (message: StreamMessage) => void,
      signal: AbortSignal,
    ): Promise<void> {
      const query = {
        ...(filter.types.length > 0 ? { type: filter.types } : {}),
        ...(filter.key ? { key: filter.key } : {}),
        ...(filter.after ? { after: filter.after } : {}),
      };
      const body = await bodyOf(
        client.GET("/api/v1/events/stream", {
          params: { query },
          parseAs: "stream",
          signal,
          headers: { Accept: "text/event-stream" },
        }),
      );
      if (body === null) return;
      await readEventStream(body, (raw) => {
        const message = streamMessage(raw);
        if (message) onMessage(message);
      }, signal);
    },
  };
}

const STREAM_EVENTS = new Set(["ready", "event", "heartbeat", "end", "error"]);

/** A parsed SSE message as the stream's documented message, or null if it is not one. */
export function streamMessage(raw: SseMessage): StreamMessage | null {
  if (!STREAM_EVENTS.has(raw.event)) return null;
  let data: unknown;
  try {
    data = JSON.parse(raw.data);
  } catch {
    return null;
  }
  if (typeof data !== "object" || data === null) return null;
  const message = { event: raw.event, data, ...(raw.id !== null ? { id: raw.id } : {}) };
  return message as StreamMessage;
}

export const operationsKeys = {
  scenarios: ["operations", "scenarios"] as const,
  health: (name: string, period: Period) => ["operations", "health", name, period] as const,
  runs: (name: string, before: string | null) => ["operations", "runs", name, before] as const,
  run: (id: string) => ["operations", "run", id] as const,
  letters: (filter: LetterFilter, before: string | null) =>
    ["operations", "dead-letters", filter, before] as const,
  lettersAll: ["operations", "dead-letters"] as const,
  letter: (id: string) => ["operations", "dead-letter", id] as const,
};

/** Health and run history refresh this often (ms), so a new run shows without a reload. */
export const REFRESH_MS = 5000;

export function useOperationsApi() {
  return operationsApi(useApi());
}

export function useScenarioList() {
  const ops = useOperationsApi();
  return useQuery({ queryKey: operationsKeys.scenarios, queryFn: ops.scenarios, retry: shouldRetry });
}

export function useHealthOf(names: string[], period: Period) {
  const ops = useOperationsApi();
  return useQueries({
    queries: names.map((name) => ({
      queryKey: operationsKeys.health(name, period),
      queryFn: () => ops.health(name, PERIODS[period]),
      retry: shouldRetry,
      refetchInterval: REFRESH_MS,
      staleTime: 0,
    })),
  });
}

export function useScenarioHealth(name: string, period: Period) {
  const ops = useOperationsApi();
  return useQuery({
    queryKey: operationsKeys.health(name, period),
    queryFn: () => ops.health(name, PERIODS[period]),
    retry: shouldRetry,
    refetchInterval: REFRESH_MS,
    staleTime: 0,
    placeholderData: keepPreviousData,
  });
}

export function useRuns(name: string, before: string | null) {
  const ops = useOperationsApi();
  return useQuery({
    queryKey: operationsKeys.runs(name, before),
    queryFn: () => ops.runs(name, before),
    retry: shouldRetry,
    // The first page follows new runs; older pages do not change.
    refetchInterval: before === null ? REFRESH_MS : false,
    staleTime: 0,
    placeholderData: keepPreviousData,
  });
}

export function useRun(runId: string) {
  const ops = useOperationsApi();
  return useQuery({
    queryKey: operationsKeys.run(runId),
    queryFn: () => ops.run(runId),
    retry: shouldRetry,
    refetchInterval: (query) =>
      query.state.data && ["running", "waiting"].includes(query.state.data.status) ? REFRESH_MS : false,
    staleTime: 0,
  });
}

export function useRetryRun(runId: string) {
  const ops = useOperationsApi();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: () => ops.retry(runId),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: operationsKeys.run(runId) }),
  });
}

export function useDeadLetters(filter: LetterFilter, before: string | null) {
  const ops = useOperationsApi();
  return useQuery({
    queryKey: operationsKeys.letters(filter, before),
    queryFn: () => ops.deadLetters(filter, before),
    retry: shouldRetry,
    staleTime: 0,
    placeholderData: keepPreviousData,
  });
}

export function useDeadLetter(id: string | null) {
  const ops = useOperationsApi();
  return useQuery({
    queryKey: operationsKeys.letter(id ?? ""),
    queryFn: () => ops.deadLetter(id ?? ""),
    enabled: id !== null,
    retry: shouldRetry,
    staleTime: 0,
  });
}

/** After a fix, replay or discard: the letter and every list show what the server holds. */
export function useLetterAction<R, V>(id: string, action: (variables: V) => Promise<R>) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: action,
    onSettled: async () => {
      await queryClient.invalidateQueries({ queryKey: operationsKeys.letter(id) });
      await queryClient.invalidateQueries({ queryKey: operationsKeys.lettersAll });
    },
  });
}
