/**
 * The agents area's calls (agents, runs and traces, the task queue, golden cases and
 * evaluations) on the typed client, and their TanStack Query hooks. Errors become ApiProblem
 * the way client.ts's `unwrap` does.
 */
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import type { Api } from "./client";
import { unwrap } from "./client";
import { ifMatch, versionFromEtag } from "./concurrency";
import { ApiProblem } from "./problem";
import { shouldRetry } from "./queries";
import type { components } from "./schema";
import { useApi } from "../session/SessionContext";

type Schemas = components["schemas"];
export type Agent = Schemas["AgentPublic"];
export type AgentVersion = Schemas["AgentVersionPublic"];
export type Tool = Schemas["ToolPublic"];
export type Validation = Schemas["AgentValidation"];
export type RunOutcome = Schemas["AgentRunOutcome"];
export type Run = Schemas["AgentRunPublic"];
export type RunTrace = Schemas["AgentRunTrace"];
export type RunStep = Schemas["AgentStepPublic"];
export type Verification = Schemas["AgentRunVerification"];
export type HumanTask = Schemas["HumanTaskPublic"];
export type DecisionResult = Schemas["TaskDecisionResult"];
export type GoldenCase = Schemas["GoldenCasePublic"];
export type EvaluationReport = Schemas["EvaluationReport"];
export type EvaluationPoint = Schemas["EvaluationSummary"];
export type AgentMetrics = Schemas["AgentMetrics"];


/** The definition endpoints read JSON or YAML from the body (not in the OpenAPI document). */
const yamlBody = {
  headers: { "Content-Type": "application/yaml" },
  bodySerializer: (body: unknown) => String(body),
};

export function agentCalls(api: Api) {
  const { client } = api;
  return {
    agents: async () => (await unwrap(client.GET("/api/v1/agents"))).data.data,
    agent: async (name: string) => {
      const { data, response } = await unwrap(
        client.GET("/api/v1/agents/{name}", { params: { path: { name } } }),
      );
      return { agent: data, version: versionFromEtag(response.headers.get("ETag")) ?? data.version };
    },
    versions: async (name: string) =>
      (await unwrap(client.GET("/api/v1/agents/{name}/versions", { params: { path: { name } } })))
        .data.data,
    tools: async () => (await unwrap(client.GET("/api/v1/agents/tools"))).data.data,
    validate: async (yaml: string, signal?: AbortSignal) =>
      (
        await unwrap(
          client.POST("/api/v1/agents/validate", { ...yamlBody, body: yaml as never, signal }),
        )
      ).data,
    /** A new agent (POST), or a new version of `name` edited at `version` (PUT, If-Match). */
    save: async (yaml: string, existing: { name: string; version: number } | null) => {
      const { data } = existing
        ? await unwrap(
            client.PUT("/api/v1/agents/{name}", {
              params: { path: { name: existing.name } },
              ...yamlBody,
              headers: { ...yamlBody.headers, "If-Match": ifMatch(existing.version) },
              body: yaml as never,
            }),
          )
        : await unwrap(client.POST("/api/v1/agents", { ...yamlBody, body: yaml as never }));
      return data;
    },
    setEnabled: async (name: string, enabled: boolean) =>
      (
        await unwrap(
          enabled
            ? client.POST("/api/v1/agents/{name}/enable", { params: { path: { name } } })
            : client.POST("/api/v1/agents/{name}/disable", { params: { path: { name } } }),
        )
      ).data,
    start: async (name: string, inputs: Record<string, unknown>) =>
      (
        await unwrap(
          client.POST("/api/v1/agents/{name}/runs", {
            params: { path: { name } },
            body: { inputs, wait: true },
          }),
        )
      ).data,
    runs: async (query: { agent?: string; limit?: number }) =>
      (await unwrap(client.GET("/api/v1/agent-runs", { params: { query } }))).data.data,
    run: async (runId: string) =>
      (await unwrap(client.GET("/api/v1/agent-runs/{run_id}", { params: { path: { run_id: runId } } })))
        .data,
    verify: async (runId: string) =>
      (
        await unwrap(
          client.GET("/api/v1/agent-runs/{run_id}/verify", { params: { path: { run_id: runId } } }),
        )
      ).data,
    tasks: async () =>
      (await unwrap(client.GET("/api/v1/tasks", { params: { query: { status: "open", mine: true } } })))
        .data.data,
    decide: async (
      taskId: string,
      decision: { outcome: "approved" | "rejected" | "modified"; values?: Record<string, unknown>; comment?: string | null },
    ) =>
      (
        await unwrap(
          client.POST("/api/v1/tasks/{task_id}/decision", {
            params: { path: { task_id: taskId } },
            body: decision,
          }),
        )
      ).data,
    cases: async (name: string) =>
      (await unwrap(client.GET("/api/v1/agents/{name}/cases", { params: { path: { name } } }))).data
        .data,
    addCase: async (
      name: string,
      body: { name: string; inputs: Record<string, unknown>; expected: Record<string, unknown> },
    ) =>
      (await unwrap(client.POST("/api/v1/agents/{name}/cases", { params: { path: { name } }, body })))
        .data,
    evaluate: async (name: string, k: number) =>
      (
        await unwrap(
          client.POST("/api/v1/agents/{name}/evaluations", { params: { path: { name } }, body: { k } }),
        )
      ).data,
    history: async (name: string) =>
      (
        await unwrap(
          client.GET("/api/v1/agents/{name}/evaluations", { params: { path: { name } } }),
        )
      ).data.data,
  };
}

export const agentKeys = {
  all: ["agents"] as const,
  list: ["agents", "list"] as const,
  one: (name: string) => ["agents", "one", name] as const,
  versions: (name: string) => ["agents", "versions", name] as const,
  tools: ["agents", "tools"] as const,
  runs: (agent: string | null) => ["agents", "runs", agent] as const,
  run: (runId: string) => ["agents", "run", runId] as const,
  verify: (runId: string) => ["agents", "verify", runId] as const,
  tasks: ["agents", "tasks"] as const,
  cases: (name: string) => ["agents", "cases", name] as const,
  history: (name: string) => ["agents", "history", name] as const,
};

export function useAgentCalls() {
  return agentCalls(useApi());
}

export function useAgents() {
  const calls = useAgentCalls();
  return useQuery({ queryKey: agentKeys.list, queryFn: calls.agents, retry: shouldRetry });
}

export function useAgent(name: string | undefined) {
  const calls = useAgentCalls();
  return useQuery({
    queryKey: agentKeys.one(name ?? ""),
    queryFn: () => calls.agent(name ?? ""),
    enabled: name !== undefined,
    retry: shouldRetry,
  });
}

export function useAgentVersions(name: string | undefined) {
  const calls = useAgentCalls();
  return useQuery({
    queryKey: agentKeys.versions(name ?? ""),
    queryFn: () => calls.versions(name ?? ""),
    enabled: name !== undefined,
    retry: shouldRetry,
  });
}

export function useTools() {
  const calls = useAgentCalls();
  return useQuery({ queryKey: agentKeys.tools, queryFn: calls.tools, staleTime: 10 * 60_000 });
}

export function useSetEnabled() {
  const calls = useAgentCalls();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: ({ name, enabled }: { name: string; enabled: boolean }) => calls.setEnabled(name, enabled),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: agentKeys.all }),
  });
}

export function useRuns(agent: string | null, limit = 10) {
  const calls = useAgentCalls();
  return useQuery({
    queryKey: agentKeys.runs(agent),
    queryFn: () => calls.runs(agent ? { agent, limit } : { limit }),
    retry: shouldRetry,
  });
}

const UNFINISHED = new Set(["running", "waiting"]);

export function useRun(runId: string) {
  const calls = useAgentCalls();
  return useQuery({
    queryKey: agentKeys.run(runId),
    queryFn: () => calls.run(runId),
    retry: shouldRetry,
    // A run still going is looked at again (a task decided elsewhere continues it).
    refetchInterval: (query) => (query.state.data && UNFINISHED.has(query.state.data.status) ? 5_000 : false),
  });
}

/** The ledger proof; a 409 means "not on the ledger yet" and is asked again while it lasts. */
export function useVerification(runId: string, runFinished: boolean) {
  const calls = useAgentCalls();
  return useQuery({
    queryKey: agentKeys.verify(runId),
    queryFn: () => calls.verify(runId),
    retry: false,
    refetchInterval: (query) =>
      query.state.error instanceof ApiProblem && query.state.error.status === 409 && runFinished ? 2_000 : false,
  });
}

export function useTasks() {
  const calls = useAgentCalls();
  return useQuery({
    queryKey: agentKeys.tasks,
    queryFn: calls.tasks,
    retry: shouldRetry,
    refetchInterval: 30_000,
    placeholderData: keepPreviousData,
  });
}

export function useCases(name: string) {
  const calls = useAgentCalls();
  return useQuery({ queryKey: agentKeys.cases(name), queryFn: () => calls.cases(name), retry: shouldRetry });
}

export function useEvaluationHistory(name: string) {
  const calls = useAgentCalls();
  return useQuery({ queryKey: agentKeys.history(name), queryFn: () => calls.history(name), retry: shouldRetry });
}
