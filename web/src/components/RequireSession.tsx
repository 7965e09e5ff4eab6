import type { ReactNode } from "react";
import { useTranslation } from "react-i18next";
import { Navigate, useLocation } from "react-router";
import { useSessionActions, useSessionState } from "../session/SessionContext";

/** Signed-in routes: without a session, go to sign-in and come back here afterwards. */
export function RequireSession({ children }: { children: ReactNode }) {
  const { session } = useSessionState();
  const { restoring } = useSessionActions();
  const location = useLocation();
  const { t } = useTranslation();
  if (session === null && restoring) {
    return (
      <p className="loading-bar" role="status">
        {t("signIn.restoring")}
      </p>
    );
  }
  if (session === null) {
    const from = `${location.pathname}${location.search}`;
    return <Navigate to="/sign-in" replace state={{ from }} />;
  }
  return <>{children}</>;
}
