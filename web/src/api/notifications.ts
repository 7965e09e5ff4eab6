/**
 * The notification inbox's calls and hooks (GET /api/v1/notifications, …/{id}/read,
 * …/read-all): what scenarios' `notify` steps sent you or your roles, with your own read state.
 */
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import type { Api } from "./client";
import { bodyOf } from "./client";
import type { components } from "./schema";
import { useApi } from "../session/SessionContext";

export type Notification = components["schemas"]["NotificationPublic"];
export type NotificationPage = components["schemas"]["NotificationPage"];

/** How often the header's unread count is refreshed. */
export const UNREAD_REFRESH_MS = 30_000;
const PAGE = 25;

export function notificationCalls(api: Api) {
  const { client } = api;
  return {
    page: (unread: boolean, cursor: string | null, limit = PAGE) =>
      bodyOf(
        client.GET("/api/v1/notifications", {
          params: { query: { limit, ...(unread ? { unread: true } : {}), ...(cursor ? { cursor } : {}) } },
        }),
      ),
    markRead: (id: string) =>
      bodyOf(client.POST("/api/v1/notifications/{notification_id}/read", { params: { path: { notification_id: id } } })),
    markUnread: (id: string) =>
      bodyOf(client.DELETE("/api/v1/notifications/{notification_id}/read", { params: { path: { notification_id: id } } })),
    readAll: () => bodyOf(client.POST("/api/v1/notifications/read-all")),
  };
}

export const notificationKeys = {
  all: ["notifications"] as const,
  unread: ["notifications", "unread-count"] as const,
  page: (unread: boolean, cursor: string | null) => ["notifications", "page", unread, cursor] as const,
};

function useCalls() {
  return notificationCalls(useApi());
}

/** The reader's unread count, for the header (one notification fetched, the count is exact). */
export function useUnreadCount() {
  const calls = useCalls();
  return useQuery({
    queryKey: notificationKeys.unread,
    queryFn: async () => (await calls.page(true, null, 1)).unread,
    refetchInterval: UNREAD_REFRESH_MS,
    retry: false,
  });
}

export function useNotifications(unread: boolean, cursor: string | null) {
  const calls = useCalls();
  return useQuery({
    queryKey: notificationKeys.page(unread, cursor),
    queryFn: () => calls.page(unread, cursor),
    placeholderData: keepPreviousData,
  });
}

/** Mark one read or unread, or all read; every inbox view and the count refresh after. */
export function useMarkNotifications() {
  const calls = useCalls();
  const queries = useQueryClient();
  const refresh = () => queries.invalidateQueries({ queryKey: notificationKeys.all });
  return {
    read: useMutation({ mutationFn: calls.markRead, onSettled: refresh }),
    unread: useMutation({ mutationFn: calls.markUnread, onSettled: refresh }),
    all: useMutation({ mutationFn: calls.readAll, onSettled: refresh }),
  };
}
