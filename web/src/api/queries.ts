/** Server state through TanStack Query: one key scheme for every read of the console. */
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { useApi } from "../session/SessionContext";
import type { ListParams } from "./client";
import { ApiProblem } from "./problem";

export const queryKeys = {
  objects: ["objects"] as const,
  records: (object: string, params: ListParams) => ["records", object, params] as const,
  recordsOf: (object: string) => ["records", object] as const,
  record: (object: string, id: string) => ["record", object, id] as const,
};

/** Retry what may pass on a second try (network, 5xx); never a 4xx. */
export function shouldRetry(failures: number, error: unknown): boolean {
  if (error instanceof ApiProblem && error.status >= 400 && error.status < 500) return false;
  return failures < 2;
}

export function useObjects() {
  const api = useApi();
  return useQuery({
    queryKey: queryKeys.objects,
    queryFn: () => api.objects(),
    staleTime: 5 * 60_000,
  });
}

export function useRecordPage(object: string, params: ListParams) {
  const api = useApi();
  return useQuery({
    queryKey: queryKeys.records(object, params),
    queryFn: () => api.records(object, params),
    placeholderData: keepPreviousData,
  });
}

export function useRecord(object: string, id: string) {
  const api = useApi();
  return useQuery({
    queryKey: queryKeys.record(object, id),
    queryFn: () => api.record(object, id),
  });
}
