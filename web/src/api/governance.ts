/**
 * The governance area's API calls and TanStack Query hooks: sovereignty KPIs, the evidence
 * ledger (entries, checkpoints, proof bundles), roles, users and API keys. Typed by the
 * generated client (schema.d.ts); every error answer becomes an ApiProblem, as in client.ts.
 */
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import type { Api } from "./client";
import { bodyOf, completed } from "./client";
import { ifMatch } from "./concurrency";
import type { components } from "./schema";
import { useApi } from "../session/SessionContext";

type Schemas = components["schemas"];
export type Kpis = Schemas["SovereigntyKpis"];
export type LedgerEntryPage = Schemas["LedgerEntryPage"];
export type LedgerEntrySummary = Schemas["LedgerEntrySummary"];
export type LedgerEntryDetail = Schemas["LedgerEntryDetail"];
export type StoredCheckpoint = Schemas["StoredCheckpoint"];
export type ProofBundleFile = Schemas["ProofBundleDownload"];
export type LedgerKeys = Schemas["LedgerKeys"];
export type Role = Schemas["RolePublic"];
export type RolePermissions = Schemas["RolePermissionsPublic"];
export type ObjectGrant = Schemas["ObjectGrantPublic"];
export type UserSummary = Schemas["UserSummary"];
export type UserList = Schemas["UserList"];
export type UserCreate = Schemas["UserCreate"];
export type UserUpdate = Schemas["UserUpdate"];
export type ApiKey = Schemas["ApiKeyPublic"];
export type ApiKeyCreated = Schemas["ApiKeyCreated"];


export function governanceCalls(api: Api) {
  const { client } = api;
  return {
    kpis: () => bodyOf(client.GET("/api/v1/sovereignty/kpis")),
    entries: (after: number | null, limit: number) =>
      bodyOf(
        client.GET("/api/v1/ledger/entries", {
          params: { query: { limit, ...(after === null ? {} : { after }) } },
        }),
      ),
    entry: (index: number) =>
      bodyOf(client.GET("/api/v1/ledger/entries/{index}", { params: { path: { index } } })),
    checkpoints: (limit = 20) =>
      bodyOf(client.GET("/api/v1/ledger/checkpoints", { params: { query: { limit } } })),
    signCheckpoint: () => bodyOf(client.POST("/api/v1/ledger/checkpoints")),
    bundle: (index: number) =>
      bodyOf(client.GET("/api/v1/ledger/entries/{index}/bundle", { params: { path: { index } } })),
    keys: () => bodyOf(client.GET("/api/v1/ledger/public-key")),
    roles: async () => (await bodyOf(client.GET("/api/v1/roles"))).data,
    saveRole: (name: string, description: string, permissions: RolePermissions) =>
      bodyOf(
        client.PUT("/api/v1/roles/{name}", {
          params: { path: { name } },
          body: { description, permissions },
        }),
      ),
    users: (search: string, cursor: string | null, limit = 50) =>
      bodyOf(
        client.GET("/api/v1/users", {
          params: {
            query: { limit, ...(search.trim() ? { q: search.trim() } : {}), ...(cursor ? { cursor } : {}) },
          },
        }),
      ),
    createUser: (body: UserCreate) => bodyOf(client.POST("/api/v1/users", { body })),
    updateUser: (id: string, body: UserUpdate, version: number) =>
      bodyOf(
        client.PATCH("/api/v1/users/{user_id}", {
          params: { path: { user_id: id }, header: { "if-match": ifMatch(version) } },
          body,
        }),
      ),
    resetPassword: (id: string, password: string) =>
      completed(
        client.PUT("/api/v1/users/{user_id}/password", {
          params: { path: { user_id: id } },
          body: { password },
        }),
      ),
    apiKeys: async () => (await bodyOf(client.GET("/api/v1/auth/api-keys"))).data,
    createApiKey: (name: string, userId: string | null) =>
      bodyOf(
        client.POST("/api/v1/auth/api-keys", {
          body: { name, ...(userId ? { user_id: userId } : {}) },
        }),
      ),
    revokeApiKey: (id: string) =>
      completed(client.DELETE("/api/v1/auth/api-keys/{key_id}", { params: { path: { key_id: id } } })),
  };
}

export type GovernanceCalls = ReturnType<typeof governanceCalls>;

export function useGovernance(): GovernanceCalls {
  return governanceCalls(useApi());
}

export const governanceKeys = {
  kpis: ["governance", "kpis"] as const,
  entries: (after: number | null, limit: number) => ["governance", "ledger", "entries", after, limit] as const,
  entry: (index: number) => ["governance", "ledger", "entry", index] as const,
  checkpoints: ["governance", "ledger", "checkpoints"] as const,
  keys: ["governance", "ledger", "keys"] as const,
  roles: ["governance", "roles"] as const,
  users: (search: string, cursor: string | null) => ["governance", "users", search, cursor] as const,
  allUsers: ["governance", "users"] as const,
  apiKeys: ["governance", "api-keys"] as const,
};

export function useKpis() {
  const calls = useGovernance();
  return useQuery({ queryKey: governanceKeys.kpis, queryFn: calls.kpis });
}

export function useLedgerEntries(after: number | null, limit: number) {
  const calls = useGovernance();
  return useQuery({
    queryKey: governanceKeys.entries(after, limit),
    queryFn: () => calls.entries(after, limit),
    placeholderData: keepPreviousData,
  });
}

export function useLedgerEntry(index: number | null) {
  const calls = useGovernance();
  return useQuery({
    queryKey: governanceKeys.entry(index ?? -1),
    queryFn: () => calls.entry(index ?? 0),
    enabled: index !== null,
  });
}

export function useCheckpoints() {
  const calls = useGovernance();
  return useQuery({ queryKey: governanceKeys.checkpoints, queryFn: () => calls.checkpoints() });
}

export function useLedgerKeys() {
  const calls = useGovernance();
  return useQuery({ queryKey: governanceKeys.keys, queryFn: calls.keys });
}

export function useSignCheckpoint() {
  const calls = useGovernance();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: calls.signCheckpoint,
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ["governance", "ledger"] }),
  });
}

export function useRoles() {
  const calls = useGovernance();
  return useQuery({ queryKey: governanceKeys.roles, queryFn: calls.roles });
}

export function useUsers(search: string, cursor: string | null) {
  const calls = useGovernance();
  return useQuery({
    queryKey: governanceKeys.users(search, cursor),
    queryFn: () => calls.users(search, cursor),
    placeholderData: keepPreviousData,
  });
}

export function useApiKeys() {
  const calls = useGovernance();
  return useQuery({ queryKey: governanceKeys.apiKeys, queryFn: calls.apiKeys });
}
