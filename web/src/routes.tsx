/**
 * The console's routes. Pages other than sign-in are split into their own chunks and loaded
 * when first visited (route `lazy`); the sign-in page is in the initial bundle because every
 * visit starts there (the session is in memory only).
 *
 *   /sign-in                 sign-in
 *   /                        → the first area the user may use
 *   /records                 → /records/<default object>
 *   /records/:object         record list
 *   /records/:object/:id     record detail and edit form
 *   /scenarios               placeholder
 *   *                        not found
 */
import type { RouteObject } from "react-router";
import { Navigate, Outlet, useRouteError } from "react-router";
import { useTranslation } from "react-i18next";
import { AppShell } from "./components/AppShell";
import { ProblemMessage } from "./components/ProblemMessage";
import { RequireSession } from "./components/RequireSession";
import { useDocumentTitle } from "./components/useDocumentTitle";
import { homePath } from "./nav/navigation";
import SignInPage from "./pages/sign-in/SignInPage";
import { useMe } from "./session/SessionContext";

function Home() {
  return <Navigate to={homePath(useMe())} replace />;
}

function Loading() {
  const { t } = useTranslation();
  return <p role="status">{t("common.loading")}</p>;
}

function RouteError() {
  const { t } = useTranslation();
  const error = useRouteError();
  useDocumentTitle(t("errors.heading"));
  return (
    <main id="main" className="shell-main">
      <h1>{t("errors.heading")}</h1>
      <ProblemMessage error={error} />
    </main>
  );
}

export const routes: RouteObject[] = [
  {
    Component: Outlet,
    HydrateFallback: Loading,
    ErrorBoundary: RouteError,
    children: [
      { path: "/sign-in", Component: SignInPage },
      {
        path: "/",
        element: (
          <RequireSession>
            <AppShell />
          </RequireSession>
        ),
        children: [
          { index: true, Component: Home },
          {
            path: "records/:object?",
            lazy: async () => ({ Component: (await import("./pages/records/RecordsPage")).default }),
          },
          {
            path: "records/:object/:id",
            lazy: async () => ({
              Component: (await import("./pages/record-detail/RecordDetailPage")).default,
            }),
          },
          {
            path: "scenarios",
            lazy: async () => ({
              Component: (await import("./pages/scenarios/ScenariosPage")).default,
            }),
          },
          {
            path: "*",
            lazy: async () => ({ Component: (await import("./pages/not-found/NotFoundPage")).default }),
          },
        ],
      },
    ],
  },
];
