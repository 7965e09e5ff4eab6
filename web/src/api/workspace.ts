/**
 * The records workspace's typed calls and TanStack Query hooks: saved views, a record's
 * timeline, global search, creating records, related records, and the declared purpose
 * (`X-Purpose`) the user picked for this session.
 *
 * The purpose is held in memory only (like the token) and sent on every request by a
 * middleware this module registers on the API client (`installPurpose`); it is forgotten when
 * the session ends.
 */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useSyncExternalStore } from "react";
import type { Middleware } from "openapi-fetch";
import { onSessionEnd } from "../session/store";
import { useApi } from "../session/SessionContext";
import type { Api, ApiClient, ListParams, VersionedRecord } from "./client";
import { completed, recordListQuery, unwrap } from "./client";
import { versionFromEtag } from "./concurrency";
import type { components, paths } from "./schema";
import type { RecordData, RecordPage } from "./types";

type NewRecordBody =
  paths["/api/v1/objects/{object_name}/records"]["post"]["requestBody"]["content"]["application/json"];

type Schemas = components["schemas"];

export type SavedView = Schemas["SavedViewPublic"];
export type SavedViewCreate = Schemas["SavedViewCreate"];
export type SavedViewUpdate = Schemas["SavedViewUpdate"];
export type ViewFilter = Schemas["ViewFilter"];
export type FilterOperator = NonNullable<ViewFilter["operator"]>;
export type Timeline = Schemas["RecordTimeline"];
export type TimelineItem = Schemas["TimelineItem"];
export type TimelineChange = Schemas["TimelineChange"];
export type SearchResults = Schemas["SearchResults"];
export type SearchHit = Schemas["SearchHit"];
export type Purpose = Schemas["PurposePublic"];



// -- the declared purpose ----------------------------------------------------------------------

let purpose: string | null = null;
const purposeListeners = new Set<() => void>();

function notifyPurpose() {
  for (const listener of purposeListeners) listener();
}

export function currentPurpose(): string | null {
  return purpose;
}

export function setPurpose(next: string | null): void {
  if (purpose === next) return;
  purpose = next;
  notifyPurpose();
}

onSessionEnd(() => setPurpose(null));

function subscribePurpose(listener: () => void): () => void {
  purposeListeners.add(listener);
  return () => purposeListeners.delete(listener);
}

export function usePurpose(): string | null {
  return useSyncExternalStore(subscribePurpose, currentPurpose, currentPurpose);
}

/** Sends `X-Purpose` when the user declared one (a request that names its own keeps it). */
export const purposeMiddleware: Middleware = {
  onRequest({ request }) {
    if (purpose !== null && !request.headers.has("X-Purpose")) {
      request.headers.set("X-Purpose", purpose);
    }
    return request;
  },
};

const withPurpose = new WeakSet<ApiClient>();

/** Registers the purpose middleware on a client, once. */
export function installPurpose(client: ApiClient): void {
  if (withPurpose.has(client)) return;
  client.use(purposeMiddleware);
  withPurpose.add(client);
}

/** Registers the middleware on the session's client (call high in the tree: the shell). */
export function usePurposeOnClient(): void {
  const api = useApi();
  installPurpose(api.client);
}

/** Declares a purpose and refetches everything read without it. */
export function useChoosePurpose(): (next: string | null) => void {
  const queryClient = useQueryClient();
  return (next) => {
    setPurpose(next);
    void queryClient.invalidateQueries();
  };
}

// -- calls -------------------------------------------------------------------------------------

export function workspaceCalls(api: Api) {
  const { client } = api;
  return {
    async views(object: string): Promise<SavedView[]> {
      const { data } = await unwrap(client.GET("/api/v1/views", { params: { query: { object } } }));
      return data.data;
    },
    async createView(body: SavedViewCreate): Promise<SavedView> {
      const { data } = await unwrap(client.POST("/api/v1/views", { body }));
      return data;
    },
    async updateView(id: string, body: SavedViewUpdate): Promise<SavedView> {
      const { data } = await unwrap(
        client.PATCH("/api/v1/views/{view_id}", { params: { path: { view_id: id } }, body }),
      );
      return data;
    },
    async deleteView(id: string): Promise<void> {
      await completed(
        client.DELETE("/api/v1/views/{view_id}", { params: { path: { view_id: id } } }),
      );
    },
    async timeline(object: string, id: string): Promise<Timeline> {
      const { data } = await unwrap(
        client.GET("/api/v1/objects/{object_name}/records/{record_id}/timeline", {
          params: { path: { object_name: object, record_id: id }, query: { limit: 100 } },
        }),
      );
      return data;
    },
    async search(q: string, limit = 50): Promise<SearchResults> {
      const { data } = await unwrap(client.GET("/api/v1/search", { params: { query: { q, limit } } }));
      return data;
    },
    async purposes(): Promise<Purpose[]> {
      const { data } = await unwrap(client.GET("/api/v1/purposes"));
      return data.data;
    },
    async createRecord(object: string, body: Record<string, unknown>): Promise<VersionedRecord> {
      const { data, response } = await unwrap(
        client.POST("/api/v1/objects/{object_name}/records", {
          params: { path: { object_name: object } },
          // Typed per object in the document (anyOf the <Object>RecordCreate schemas); the
          // console builds bodies from runtime metadata, so it hands any of them over.
          body: body as NewRecordBody,
        }),
      );
      const record = data as RecordData;
      return { record, version: versionFromEtag(response.headers.get("ETag")) ?? record.version };
    },
    /** A page of records with any filters (the list's query string). */
    async records(object: string, params: ListParams): Promise<RecordPage> {
      const { data } = await unwrap(
        client.GET("/api/v1/objects/{object_name}/records", {
          params: { path: { object_name: object } },
          querySerializer: () => recordListQuery(params),
        }),
      );
      return data;
    },
  };
}

export function useWorkspace() {
  return workspaceCalls(useApi());
}

export const workspaceKeys = {
  views: (object: string) => ["views", object] as const,
  timeline: (object: string, id: string) => ["timeline", object, id] as const,
  search: (q: string) => ["search", q] as const,
  purposes: ["purposes"] as const,
  related: (object: string, field: string, id: string) => ["related", object, field, id] as const,
  picker: (object: string, text: string) => ["picker", object, text] as const,
};

export function useSavedViews(object: string) {
  const calls = useWorkspace();
  return useQuery({ queryKey: workspaceKeys.views(object), queryFn: () => calls.views(object) });
}

export function useViewMutations(object: string) {
  const calls = useWorkspace();
  const queryClient = useQueryClient();
  const refresh = () => queryClient.invalidateQueries({ queryKey: workspaceKeys.views(object) });
  return {
    create: useMutation({
      mutationFn: (body: SavedViewCreate) => calls.createView(body),
      onSuccess: refresh,
    }),
    update: useMutation({
      mutationFn: ({ id, body }: { id: string; body: SavedViewUpdate }) => calls.updateView(id, body),
      onSuccess: refresh,
    }),
    remove: useMutation({ mutationFn: (id: string) => calls.deleteView(id), onSuccess: refresh }),
  };
}

export function useTimeline(object: string, id: string) {
  const calls = useWorkspace();
  return useQuery({
    queryKey: workspaceKeys.timeline(object, id),
    queryFn: () => calls.timeline(object, id),
  });
}

export function useSearch(q: string) {
  const calls = useWorkspace();
  return useQuery({
    queryKey: workspaceKeys.search(q),
    queryFn: () => calls.search(q),
    enabled: q.trim().length > 0,
  });
}

export function usePurposes() {
  const calls = useWorkspace();
  return useQuery({
    queryKey: workspaceKeys.purposes,
    queryFn: () => calls.purposes(),
    staleTime: 30 * 60_000,
  });
}

/** Records of `object` whose relation `field` points at `id` (the other side of a relation). */
export function useRelated(object: string, field: string, id: string, enabled = true) {
  const calls = useWorkspace();
  return useQuery({
    queryKey: workspaceKeys.related(object, field, id),
    queryFn: () =>
      calls.records(object, { limit: 10, filters: [{ field, value: id }], sort: "-updated_at" }),
    enabled,
  });
}
