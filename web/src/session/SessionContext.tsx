import { useQueryClient } from "@tanstack/react-query";
import { createContext, use, useEffect, useMemo, useSyncExternalStore, type ReactNode } from "react";
import { api as defaultApi, type Api } from "../api/client";
import type { Me } from "../api/types";
import {
  endSession,
  getSessionState,
  onSessionEnd,
  startSession,
  subscribe,
  type SessionState,
} from "./store";

interface SessionActions {
  /** Sign in (POST /auth/token), then learn who we are (GET /auth/me). Throws ApiProblem. */
  signIn: (email: string, password: string) => Promise<Me>;
  signOut: () => void;
  api: Api;
}

const SessionContext = createContext<SessionActions | null>(null);

export function SessionProvider({ children, api = defaultApi }: { children: ReactNode; api?: Api }) {
  const queryClient = useQueryClient();

  // Whatever ends the session (sign-out, expiry, a 401), nothing of that user stays cached.
  useEffect(() => onSessionEnd(() => queryClient.clear()), [queryClient]);

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
      signOut: () => {
        endSession("signed-out");
      },
    }),
    [api, queryClient],
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
