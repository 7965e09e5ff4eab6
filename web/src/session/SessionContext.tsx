import { useQueryClient } from "@tanstack/react-query";
import {
  createContext,
  use,
  useEffect,
  useMemo,
  useState,
  useSyncExternalStore,
  type ReactNode,
} from "react";
import { api as defaultApi, type Api } from "../api/client";
import type { Me } from "../api/types";
import {
  endSession,
  getSessionState,
  onSessionEnd,
  renewToken,
  startSession,
  subscribe,
  type SessionState,
} from "./store";

interface SessionActions {
  /** Sign in (POST /auth/session), then learn who we are (GET /auth/me). Throws ApiProblem. */
  signIn: (email: string, password: string) => Promise<Me>;
  signOut: () => Promise<void>;
  api: Api;
  /** True while a page load asks the server whether its refresh cookie still holds a session. */
  restoring: boolean;
}

/** Refresh this long before the token expires. */
const REFRESH_AHEAD_MS = 60_000;
const MAX_DELAY = 2 ** 31 - 1;

const SessionContext = createContext<SessionActions | null>(null);

export function SessionProvider({ children, api = defaultApi }: { children: ReactNode; api?: Api }) {
  const queryClient = useQueryClient();

  const { session } = useSyncExternalStore(subscribe, getSessionState, getSessionState);
  // A fresh page (reload, new tab) with no session yet: ask once whether the refresh cookie
  // still stands for one, before sending the user to the sign-in page.
  const [restoring, setRestoring] = useState(() => {
    const state = getSessionState();
    return state.session === null && state.ended === null;
  });

  // Whatever ends the session (sign-out, expiry, a 401), nothing of that user stays cached.
  useEffect(() => onSessionEnd(() => queryClient.clear()), [queryClient]);

  useEffect(() => {
    if (!restoring) return;
    const run = { cancelled: false };
    void (async () => {
      try {
        const token = await api.refresh();
        const me = await api.me(token.access_token);
        if (!run.cancelled && getSessionState().session === null) {
          startSession(token.access_token, token.expires_in, me);
        }
      } catch {
        // no session cookie, or it has ended: the sign-in page it is
      } finally {
        if (!run.cancelled) setRestoring(false);
      }
    })();
    return () => {
      run.cancelled = true;
    };
  }, [api, restoring]);

  // Shortly before the token expires, exchange the cookie for a new one. If that fails (a
  // password sign-in without cookie, the session's absolute end), the expiry ends the session.
  const token = session?.token ?? null;
  const expiresAt = session?.expiresAt ?? 0;
  useEffect(() => {
    if (token === null) return;
    const delay = Math.min(Math.max(5_000, expiresAt - Date.now() - REFRESH_AHEAD_MS), MAX_DELAY);
    const timer = setTimeout(() => {
      void api
        .refresh()
        .then((fresh) => {
          if (getSessionState().session?.token === token) {
            renewToken(fresh.access_token, fresh.expires_in);
          }
        })
        .catch(() => undefined);
    }, delay);
    return () => clearTimeout(timer);
  }, [api, token, expiresAt]);

  const actions = useMemo<SessionActions>(
    () => ({
      api,
      signIn: async (email, password) => {
        const token = await api.signIn(email, password);
        const me = await api.me(token.access_token);
        queryClient.clear();
        startSession(token.access_token, token.expires_in, me);
        return me;
      },
      // The cookie is cleared first: a reload right after signing out must not sign back in.
      // (api.signOut never throws; offline, the cookie expires on its own.)
      signOut: () => api.signOut().then(() => endSession("signed-out")),
      restoring,
    }),
    [api, queryClient, restoring],
  );

  return <SessionContext value={actions}>{children}</SessionContext>;
}

export function useSessionState(): SessionState {
  return useSyncExternalStore(subscribe, getSessionState, getSessionState);
}

export function useSessionActions(): SessionActions {
  const actions = use(SessionContext);
  if (actions === null) throw new Error("useSessionActions needs a <SessionProvider>");
  return actions;
}

/** The signed-in user; only inside routes guarded by <RequireSession>. */
export function useMe(): Me {
  const { session } = useSessionState();
  if (session === null) throw new Error("useMe outside a signed-in route");
  return session.me;
}

export function useApi(): Api {
  return useSessionActions().api;
}
