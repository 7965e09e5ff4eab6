/**
 * The scenario builder's calls (scenarios, their versions and dry runs, the action and event
 * type catalogs, the builder's examples and sample events) and their TanStack Query hooks.
 * Definitions are sent as JSON; the server's answers are typed from the OpenAPI document.
 */
import { useQuery } from "@tanstack/react-query";
import { useMemo } from "react";
import { useApi } from "../session/SessionContext";
import type { ApiClient } from "./client";
import { unwrap } from "./client";
import { ifMatch, versionFromEtag } from "./concurrency";
import type { components } from "./schema";

type Schemas = components["schemas"];

export type Scenario = Schemas["ScenarioPublic"];
export type ScenarioVersion = Schemas["ScenarioVersionPublic"];
export type ActionSpec = Schemas["ActionPublic"];
export type ActionParam = Schemas["ActionParamPublic"];
export type EventTypeListed = Schemas["EventTypeListed"];
export type EventTypeDetail = Schemas["EventTypeDetail"];
export type DryRunReport = Schemas["DryRunReport"];
export type PlannedStep = Schemas["PlannedStepPublic"];
export type SampleEvent = Schemas["SampleEventPublic"];
export type ScenarioExample = Schemas["ScenarioExamplePublic"];
export type Validation = Schemas["ScenarioValidation"];


// The definition routes read JSON or YAML from the raw body, so the document declares none.
const raw = (body: unknown) => body as never;

export function scenarioCalls(client: ApiClient) {
  return {
    async list(): Promise<Scenario[]> {
      return (await unwrap(client.GET("/api/v1/scenarios"))).data.data;
    },
    async get(name: string): Promise<{ scenario: Scenario; version: number }> {
      const { data, response } = await unwrap(
        client.GET("/api/v1/scenarios/{name}", { params: { path: { name } } }),
      );
      return { scenario: data, version: versionFromEtag(response.headers.get("ETag")) ?? data.version };
    },
    async create(definition: unknown): Promise<Scenario> {
      return (await unwrap(client.POST("/api/v1/scenarios", { body: raw(definition) }))).data;
    },
    /** A new version, on condition that the latest is still `version` (412 otherwise). */
    async update(name: string, definition: unknown, version: number): Promise<Scenario> {
      const { data } = await unwrap(
        client.PUT("/api/v1/scenarios/{name}", {
          params: { path: { name } },
          headers: { "If-Match": ifMatch(version) },
          body: raw(definition),
        }),
      );
      return data;
    },
    async setEnabled(name: string, enabled: boolean): Promise<Scenario> {
      const call = enabled
        ? client.POST("/api/v1/scenarios/{name}/enable", { params: { path: { name } } })
        : client.POST("/api/v1/scenarios/{name}/disable", { params: { path: { name } } });
      return (await unwrap(call)).data;
    },
    async versions(name: string): Promise<ScenarioVersion[]> {
      return (await unwrap(client.GET("/api/v1/scenarios/{name}/versions", { params: { path: { name } } }))).data
        .data;
    },
    /** Checks a draft: resolves when valid, throws the 422 problem with every error. */
    async validate(definition: unknown): Promise<Validation> {
      return (await unwrap(client.POST("/api/v1/scenarios/validate", { body: raw(definition) }))).data;
    },
    async dryRun(definition: unknown, event: unknown): Promise<DryRunReport> {
      return (await unwrap(client.POST("/api/v1/scenarios/dry-run", { body: raw({ definition, event }) }))).data;
    },
    async actions(): Promise<ActionSpec[]> {
      return (await unwrap(client.GET("/api/v1/scenarios/actions"))).data.data;
    },
    async eventTypes(): Promise<EventTypeListed[]> {
      return (await unwrap(client.GET("/api/v1/event-types"))).data.data;
    },
    async eventType(type: string): Promise<EventTypeDetail> {
      return (
        await unwrap(client.GET("/api/v1/event-types/{event_type}", { params: { path: { event_type: type } } }))
      ).data;
    },
    async examples(): Promise<ScenarioExample[]> {
      return (await unwrap(client.GET("/api/v1/scenario-builder/examples"))).data.data;
    },
    async sampleEvent(type: string): Promise<SampleEvent> {
      return (await unwrap(client.GET("/api/v1/scenario-builder/sample-event", { params: { query: { type } } })))
        .data;
    },
    /** A user's display name (users are readable by every role); null if not readable. */
    async userName(id: string): Promise<string | null> {
      const { data } = await unwrap(
        client.GET("/api/v1/objects/{object_name}/records/{record_id}", {
          params: { path: { object_name: "user", record_id: id } },
        }),
      );
      const name = (data as Record<string, unknown>).name;
      return typeof name === "string" ? name : null;
    },
  };
}

export type ScenarioCalls = ReturnType<typeof scenarioCalls>;

export function useScenarioCalls(): ScenarioCalls {
  const { client } = useApi();
  return useMemo(() => scenarioCalls(client), [client]);
}

export const scenarioKeys = {
  list: ["scenarios"] as const,
  one: (name: string) => ["scenarios", name] as const,
  versions: (name: string) => ["scenarios", name, "versions"] as const,
  actions: ["scenario-actions"] as const,
  eventTypes: ["event-types"] as const,
  eventType: (type: string) => ["event-types", type] as const,
  examples: ["scenario-examples"] as const,
  user: (id: string) => ["user-name", id] as const,
};

const CATALOG = { staleTime: 10 * 60_000 };

export function useScenarios() {
  const calls = useScenarioCalls();
  return useQuery({ queryKey: scenarioKeys.list, queryFn: () => calls.list() });
}

export function useScenario(name: string | undefined) {
  const calls = useScenarioCalls();
  return useQuery({
    queryKey: scenarioKeys.one(name ?? ""),
    queryFn: () => calls.get(name ?? ""),
    enabled: name !== undefined,
  });
}

export function useVersions(name: string | undefined) {
  const calls = useScenarioCalls();
  return useQuery({
    queryKey: scenarioKeys.versions(name ?? ""),
    queryFn: () => calls.versions(name ?? ""),
    enabled: name !== undefined,
  });
}

export function useActions() {
  const calls = useScenarioCalls();
  return useQuery({ queryKey: scenarioKeys.actions, queryFn: () => calls.actions(), ...CATALOG });
}

export function useEventTypes() {
  const calls = useScenarioCalls();
  return useQuery({ queryKey: scenarioKeys.eventTypes, queryFn: () => calls.eventTypes(), ...CATALOG });
}

export function useEventTypeSchemas(types: string[]) {
  const calls = useScenarioCalls();
  return useQuery({
    queryKey: ["event-types", "schemas", [...types].sort()],
    queryFn: () => Promise.all(types.map((type) => calls.eventType(type).catch(() => null))),
    ...CATALOG,
  });
}

export function useExamples() {
  const calls = useScenarioCalls();
  return useQuery({ queryKey: scenarioKeys.examples, queryFn: () => calls.examples(), ...CATALOG });
}

export function useUserName(id: string | null | undefined) {
  const calls = useScenarioCalls();
  return useQuery({
    queryKey: scenarioKeys.user(id ?? ""),
    queryFn: () => calls.userName(id ?? "").catch(() => null),
    enabled: Boolean(id),
    staleTime: 10 * 60_000,
  });
}
