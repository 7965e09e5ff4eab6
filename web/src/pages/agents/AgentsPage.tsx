/** /agents: every agent (name, description, enabled, version, run-as), enable/disable for
 * admins, links to the designer and evaluations, and the recent runs (by agent). */
import { useTranslation } from "react-i18next";
import { Link, useSearchParams } from "react-router";
import { useAgents, useRuns, useSetEnabled, type Agent } from "../../api/agents";
import { ProblemMessage } from "../../components/ProblemMessage";
import { useDocumentTitle } from "../../components/useDocumentTitle";
import { useMe } from "../../session/SessionContext";
import "../../styles/agents.css";
import { StatusBadge, useFormat } from "./parts";

export const AUTHORS = ["admin"];

function description(agent: Agent): string {
  const value = agent.definition?.description;
  return typeof value === "string" ? value : "";
}

function RecentRuns({ agent }: { agent: string | null }) {
  const { t } = useTranslation();
  const runs = useRuns(agent, 10);
  const format = useFormat();
  return (
    <section aria-labelledby="recent-runs">
      <h2 id="recent-runs">
        {agent ? t("agents.list.recentRunsOf", { agent }) : t("agents.list.recentRuns")}
      </h2>
      {agent && (
        <p>
          <Link to="/agents#recent-runs">{t("agents.list.allRuns")}</Link>
        </p>
      )}
      {runs.error ? <ProblemMessage error={runs.error} /> : null}
      {runs.data?.length === 0 && <p>{t("agents.list.noRuns")}</p>}
      {runs.data && runs.data.length > 0 && (
        <div className="table-wrap">
          <table className="records">
            <caption>{t("agents.list.recentRuns")}</caption>
            <thead>
              <tr>
                <th scope="col">{t("agents.list.run")}</th>
                <th scope="col">{t("agents.list.agent")}</th>
                <th scope="col">{t("agents.list.status")}</th>
                <th scope="col">{t("agents.list.started")}</th>
                <th scope="col">{t("agents.list.duration")}</th>
              </tr>
            </thead>
            <tbody>
              {runs.data.map((run) => (
                <tr key={run.id}>
                  <td>
                    <Link to={`/agent-runs/${run.id}`} className="id-link">
                      {run.id.slice(0, 8)}
                    </Link>
                  </td>
                  <td>{run.agent}</td>
                  <td>
                    <StatusBadge status={run.status} />
                  </td>
                  <td>{format.dateTime(run.started_at)}</td>
                  <td>{format.ms(run.duration_ms)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

export default function AgentsPage() {
  const { t } = useTranslation();
  useDocumentTitle(t("agents.heading"));
  const me = useMe();
  const author = me.roles.some((role) => AUTHORS.includes(role));
  const agents = useAgents();
  const toggle = useSetEnabled();
  const [params] = useSearchParams();
  const runsOf = params.get("runs");

  return (
    <div className="agents-page">
      <h1>{t("agents.heading")}</h1>
      {author && (
        <p>
          <Link to="/agents/new" className="button button-primary">
            {t("agents.list.new")}
          </Link>
        </p>
      )}
      {agents.isPending && <p role="status">{t("common.loading")}</p>}
      {agents.error ? <ProblemMessage error={agents.error} /> : null}
      {toggle.error ? <ProblemMessage error={toggle.error} /> : null}
      {agents.data?.length === 0 && <p>{t("agents.list.empty")}</p>}
      {agents.data && agents.data.length > 0 && (
        <div className="table-wrap">
          <table className="records">
            <caption>{t("agents.list.caption")}</caption>
            <thead>
              <tr>
                <th scope="col">{t("agents.list.agent")}</th>
                <th scope="col">{t("agents.list.description")}</th>
                <th scope="col">{t("agents.list.version")}</th>
                <th scope="col">{t("agents.list.enabled")}</th>
                <th scope="col">{t("agents.list.runAs")}</th>
                <th scope="col">{t("agents.list.more")}</th>
              </tr>
            </thead>
            <tbody>
              {agents.data.map((agent) => (
                <tr key={agent.name}>
                  <th scope="row">
                    <Link to={`/agents/${agent.name}`}>{agent.title}</Link>
                    <br />
                    <code>{agent.name}</code>
                  </th>
                  <td>{description(agent)}</td>
                  <td>{agent.version}</td>
                  <td>
                    <span>{agent.enabled ? t("agents.list.on") : t("agents.list.off")}</span>{" "}
                    {author && (
                      <button
                        type="button"
                        className="button"
                        disabled={toggle.isPending}
                        aria-label={
                          agent.enabled
                            ? t("agents.list.disableNamed", { name: agent.name })
                            : t("agents.list.enableNamed", { name: agent.name })
                        }
                        onClick={() => toggle.mutate({ name: agent.name, enabled: !agent.enabled })}
                      >
                        {agent.enabled ? t("agents.list.disable") : t("agents.list.enable")}
                      </button>
                    )}
                  </td>
                  <td>{agent.run_as ?? <span className="muted">{t("agents.list.nobody")}</span>}</td>
                  <td>
                    <ul className="agents-links">
                      <li>
                        <Link to={`/agents/${agent.name}`}>{t("agents.list.design")}</Link>
                      </li>
                      <li>
                        <Link to={`/agents/${agent.name}/evaluations`}>{t("agents.list.evaluations")}</Link>
                      </li>
                      <li>
                        <Link to={`/agents?runs=${agent.name}#recent-runs`}>{t("agents.list.runs")}</Link>
                      </li>
                    </ul>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <RecentRuns agent={runsOf} />
    </div>
  );
}
