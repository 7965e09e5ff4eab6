/**
 * The console's routes. Pages other than sign-in are split into their own chunks and loaded
 * when first visited (route `lazy`); the sign-in page is in the initial bundle because every
 * visit starts there (the session is in memory only).
 *
 *   /sign-in                         sign-in
 *   /passport                        a customer's data passport (emailed sign-in links lead
 *                                    here; for customers: no staff session needed)
 *   /                                → the first area the user may use
 *   /records/:object?                record list (→ the default object)
 *   /records/:object/new             create form
 *   /records/:object/:id             record detail, edit form, timeline
 *   /board/:object                   kanban (opportunities by stage)
 *   /search                          global search
 *   /scenarios, /scenarios/new, /scenarios/:name      scenario list and builder
 *   /operations, /operations/scenarios/:name, /operations/runs/:runId,
 *   /operations/dead-letters, /operations/live        health, runs, dead letters, live tail
 *   /agents, /agents/new, /agents/:name, /agents/:name/evaluations, /agent-runs/:runId, /tasks
 *   /graph/:recordId?, /resolution   customer graph explorer, merge review
 *   /import, /design/objects/:name?  CSV import wizard, object & field designer
 *   /governance, /governance/ledger, /governance/roles, /governance/users
 *   *                                not found
 */
import type { ComponentType } from "react";
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

/** A page loaded as its own chunk when first visited. */
function page(
  path: string,
  load: () => Promise<{ default: ComponentType }>,
): RouteObject {
  return { path, lazy: async () => ({ Component: (await load()).default }) };
}

export const routes: RouteObject[] = [
  {
    Component: Outlet,
    HydrateFallback: Loading,
    ErrorBoundary: RouteError,
    children: [
      { path: "/sign-in", Component: SignInPage },
      page("/passport", () => import("./pages/passport/PassportPage")),
      {
        path: "/",
        element: (
          <RequireSession>
            <AppShell />
          </RequireSession>
        ),
        children: [
          { index: true, Component: Home },
          page("records/:object?", () => import("./pages/records/RecordsPage")),
          page("records/:object/new", () => import("./pages/record-detail/RecordCreatePage")),
          page("records/:object/:id", () => import("./pages/record-detail/RecordDetailPage")),
          page("board/:object", () => import("./pages/records/BoardPage")),
          page("search", () => import("./pages/records/SearchPage")),
          page("notifications", () => import("./pages/notifications/NotificationsPage")),
          page("scenarios", () => import("./pages/scenarios/ScenariosPage")),
          page("scenarios/new", () => import("./pages/scenario-builder/ScenarioBuilderPage")),
          page("scenarios/:name", () => import("./pages/scenario-builder/ScenarioBuilderPage")),
          page("operations", () => import("./pages/operations/OperationsPage")),
          page("operations/scenarios/:name", () => import("./pages/operations/ScenarioHealthPage")),
          page("operations/runs/:runId", () => import("./pages/operations/RunPage")),
          page("operations/dead-letters", () => import("./pages/operations/DeadLettersPage")),
          page("operations/live", () => import("./pages/operations/LiveTailPage")),
          page("agents", () => import("./pages/agents/AgentsPage")),
          page("agents/new", () => import("./pages/agents/AgentDesignerPage")),
          page("agents/:name", () => import("./pages/agents/AgentDesignerPage")),
          page("agents/:name/evaluations", () => import("./pages/agents/EvaluationsPage")),
          page("agent-runs/:runId", () => import("./pages/agents/TraceViewerPage")),
          page("tasks", () => import("./pages/agents/TaskInboxPage")),
          page("graph/:recordId?", () => import("./pages/graph/GraphExplorerPage")),
          page("resolution", () => import("./pages/graph/MergeReviewPage")),
          page("import", () => import("./pages/design/ImportWizardPage")),
          page("design/objects/:name?", () => import("./pages/design/ObjectDesignerPage")),
          page("governance", () => import("./pages/governance/GovernancePage")),
          page("governance/ledger", () => import("./pages/governance/LedgerPage")),
          page("governance/roles", () => import("./pages/governance/RolesPage")),
          page("governance/users", () => import("./pages/governance/UsersPage")),
          {
            path: "*",
            lazy: async () => ({ Component: (await import("./pages/not-found/NotFoundPage")).default }),
          },
        ],
      },
    ],
  },
];
