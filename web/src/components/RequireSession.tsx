import type { ReactNode } from "react";
import { Navigate, useLocation } from "react-router";
import { useSessionState } from "../session/SessionContext";

/** Signed-in routes: without a session, go to sign-in and come back here afterwards. */
export function RequireSession({ children }: { children: ReactNode }) {
  const { session } = useSessionState();
  const location = useLocation();
  if (session === null) {
    const from = `${location.pathname}${location.search}`;
    return <Navigate to="/sign-in" replace state={{ from }} />;
  }
  return <>{children}</>;
}
