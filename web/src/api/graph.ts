/**
 * Typed calls and TanStack Query hooks of the graph area: the customer graph
 * (GET /api/v1/graph/…), record search for the pickers (GET /api/v1/search) and identity
 * resolution (GET/POST /api/v1/resolution/…). Every body type comes from the server's OpenAPI
 * document (schema.d.ts); every error answer becomes an ApiProblem, as in client.ts.
 */
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useApi } from "../session/SessionContext";
import type { Api } from "./client";
import { bodyOf } from "./client";
import { shouldRetry } from "./queries";
import type { components } from "./schema";

type Schemas = components["schemas"];

export type Subgraph = Schemas["Subgraph"];
export type SubgraphNode = Schemas["SubgraphNode"];
export type GraphEdge = Schemas["GraphEdge"];
export type GraphPath = Schemas["GraphPath"];
export type Neighbours = Schemas["Neighbours"];
export type SearchResults = Schemas["SearchResults"];
export type SearchHit = Schemas["SearchHit"];
export type Duplicates = Schemas["Duplicates"];
export type DuplicatePair = Schemas["DuplicatePair"];
export type MatchFeature = Schemas["MatchFeature"];
export type MergeSummary = Schemas["MergeSummary"];
export type MergeResult = Schemas["MergeResult"];
export type UnmergeResult = Schemas["UnmergeResult"];

/** The objects identity resolution covers (graph/resolution.py PROFILES). */
export const RESOLVABLE_OBJECTS = ["contact", "account"] as const;

/** What narrows a graph read: edge types (`<object>.<field>`) and objects; empty = all. */
export interface GraphFilters {
  relations: string[];
  types: string[];
}

export interface MergeRequest {
  object: string;
  survivor: string;
  duplicate: string;
  take_from_duplicate?: string[];
  survivor_version?: number;
  duplicate_version?: number;
}


/** `relation`/`type` query parameters: absent (not empty) when nothing is chosen. */
function filterParams(filters: GraphFilters) {
  return {
    relation: filters.relations.length > 0 ? [...filters.relations].sort() : undefined,
    type: filters.types.length > 0 ? [...filters.types].sort() : undefined,
  };
}

export function graphCalls(api: Api) {
  const { client } = api;
  return {
    subgraph: (recordId: string, depth: number, filters: GraphFilters) =>
      bodyOf(
        client.GET("/api/v1/graph/{record_id}/subgraph", {
          params: {
            path: { record_id: recordId },
            query: { depth, max_nodes: 300, ...filterParams(filters) },
          },
        }),
      ),
    neighbours: (recordId: string, filters: GraphFilters) =>
      bodyOf(
        client.GET("/api/v1/graph/{record_id}/neighbours", {
          params: { path: { record_id: recordId }, query: { limit: 200, ...filterParams(filters) } },
        }),
      ),
    path: (from: string, to: string, maxDepth: number, filters: GraphFilters) =>
      bodyOf(
        client.GET("/api/v1/graph/path", {
          params: {
            query: {
              from,
              to,
              max_depth: maxDepth,
              relation: filterParams(filters).relation,
            },
          },
        }),
      ),
    search: (q: string) =>
      bodyOf(client.GET("/api/v1/search", { params: { query: { q, limit: 8 } } })),
    duplicates: (object: string) =>
      bodyOf(
        client.GET("/api/v1/resolution/{object_name}/duplicates", {
          params: { path: { object_name: object }, query: { limit: 20 } },
        }),
      ),
    merges: (object: string) =>
      bodyOf(
        client.GET("/api/v1/resolution/merges", {
          params: { query: { object, limit: 20 } },
        }),
      ),
    merge: (body: MergeRequest) => bodyOf(client.POST("/api/v1/resolution/merges", { body })),
    undo: (mergeId: string) =>
      bodyOf(
        client.POST("/api/v1/resolution/merges/{merge_id}/undo", {
          params: { path: { merge_id: mergeId } },
        }),
      ),
  };
}

export const graphKeys = {
  subgraph: (id: string, depth: number, filters: GraphFilters) =>
    ["graph", "subgraph", id, depth, filterParams(filters)] as const,
  search: (q: string) => ["graph", "search", q] as const,
  duplicates: (object: string) => ["resolution", "duplicates", object] as const,
  merges: (object: string) => ["resolution", "merges", object] as const,
  resolution: ["resolution"] as const,
};

export function useGraphCalls() {
  return graphCalls(useApi());
}

export function useSubgraph(recordId: string | null, depth: number, filters: GraphFilters) {
  const calls = useGraphCalls();
  return useQuery({
    queryKey: graphKeys.subgraph(recordId ?? "", depth, filters),
    queryFn: () => calls.subgraph(recordId ?? "", depth, filters),
    enabled: recordId !== null,
    retry: shouldRetry,
  });
}

export function useRecordSearch(q: string) {
  const calls = useGraphCalls();
  const query = q.trim();
  return useQuery({
    queryKey: graphKeys.search(query),
    queryFn: () => calls.search(query),
    enabled: query.length > 0,
    placeholderData: keepPreviousData,
    retry: shouldRetry,
  });
}

export function useDuplicates(object: string) {
  const calls = useGraphCalls();
  return useQuery({
    queryKey: graphKeys.duplicates(object),
    queryFn: () => calls.duplicates(object),
    retry: shouldRetry,
  });
}

export function useMerges(object: string) {
  const calls = useGraphCalls();
  return useQuery({
    queryKey: graphKeys.merges(object),
    queryFn: () => calls.merges(object),
    retry: shouldRetry,
  });
}

/** Merge, then re-read the pairs and the history (records changed: their caches too). */
export function useMergeMutation() {
  const calls = useGraphCalls();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (body: MergeRequest) => calls.merge(body),
    onSettled: async () => {
      await queryClient.invalidateQueries({ queryKey: graphKeys.resolution });
      await queryClient.invalidateQueries({ queryKey: ["records"] });
      await queryClient.invalidateQueries({ queryKey: ["record"] });
    },
  });
}

export function useUndoMutation() {
  const calls = useGraphCalls();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (mergeId: string) => calls.undo(mergeId),
    onSettled: async () => {
      await queryClient.invalidateQueries({ queryKey: graphKeys.resolution });
      await queryClient.invalidateQueries({ queryKey: ["records"] });
      await queryClient.invalidateQueries({ queryKey: ["record"] });
    },
  });
}
