/**
 * /operations/scenarios/:name — one scenario's health: summary numbers, runs over time (a
 * chart with a table alternative), failure reasons and the run history (newest first). Both
 * refresh every 5 seconds, so a new run shows without a reload.
 *
 * Contract (browser tests): the <h1> holds the scenario name; the chart is a figure named
 * "Runs over time" / "运行趋势"; the history is a table captioned "Run history" / "运行历史"
 * whose rows show the status in words, the start time, the duration and a link to the run.
 */
import { useState, type ReactNode } from "react";
import { useTranslation } from "react-i18next";
import { Link, useParams } from "react-router";
import { useRuns, useScenarioHealth, type ScenarioHealth } from "../../api/operations";
import { ProblemMessage } from "../../components/ProblemMessage";
import { useDocumentTitle } from "../../components/useDocumentTitle";
import { useLanguage } from "../../components/useLanguage";
import { formatTime, percent } from "../../operations/format";
import { Latency, PeriodPicker, Section, StatusText, usePeriod } from "./common";
import { Impact, LastFailure } from "./OperationsPage";
import { RunsChart } from "./RunsChart";

export default function ScenarioHealthPage() {
  const { t } = useTranslation();
  const name = useParams().name ?? "";
  const [period, setPeriod] = usePeriod();
  const health = useScenarioHealth(name, period);
  const title = t("operations.health.title", { name });
  useDocumentTitle(title);

  return (
    <>
      <h1>{title}</h1>
      <ul className="ops-links">
        <li>
          <Link to={`/operations?period=${period}`}>{t("operations.links.back")}</Link>
        </li>
        <li>
          <Link to={`/scenarios/${encodeURIComponent(name)}`}>{t("operations.health.edit")}</Link>
        </li>
      </ul>
      <div className="toolbar">
        <PeriodPicker period={period} onChange={setPeriod} />
        <p className="hint">{t("operations.health.refreshing")}</p>
      </div>
      {health.isPending && <p role="status">{t("common.loading")}</p>}
      {health.isError && <ProblemMessage error={health.error} />}
      {health.data && (
        <>
          <Summary health={health.data} />
          <RunsChart health={health.data} />
          <FailureReasons reasons={health.data.failure_reasons} />
        </>
      )}
      <RunHistory name={name} />
    </>
  );
}

function Summary({ health }: { health: ScenarioHealth }) {
  const { t } = useTranslation();
  const rate = percent(health.success_rate);
  const items: [string, ReactNode][] = [
    [t("operations.overview.runs"), health.runs],
    [t("operations.health.succeeded"), health.succeeded],
    [t("operations.health.failed"), health.failed],
    [t("operations.health.inProgress"), health.in_progress],
    [
      t("operations.overview.successRate"),
      rate === null ? t("operations.value.none") : t("operations.value.percent", { value: rate }),
    ],
    [t("operations.overview.p50"), <Latency key="p50" ms={health.latency_ms.p50} />],
    [t("operations.overview.p99"), <Latency key="p99" ms={health.latency_ms.p99} />],
    [t("operations.overview.impact"), <Impact key="impact" health={health} />],
    [t("operations.overview.lastFailure"), <LastFailure key="failure" health={health} />],
  ];
  return (
    <Section title={t("operations.health.summary")}>
      <dl className="ops-summary">
        {items.map(([label, value]) => (
          <div key={label}>
            <dt>{label}</dt>
            <dd>{value}</dd>
          </div>
        ))}
      </dl>
    </Section>
  );
}

function FailureReasons({ reasons }: { reasons: Record<string, number> }) {
  const { t } = useTranslation();
  const entries = Object.entries(reasons).sort((a, b) => b[1] - a[1]);
  return (
    <Section title={t("operations.health.failureReasons")}>
      {entries.length === 0 ? (
        <p>{t("operations.health.noFailures")}</p>
      ) : (
        <table className="records">
          <caption className="ops-visually-hidden">{t("operations.health.failureReasons")}</caption>
          <thead>
            <tr>
              <th scope="col">{t("operations.health.errorCode")}</th>
              <th scope="col">{t("operations.health.count")}</th>
            </tr>
          </thead>
          <tbody>
            {entries.map(([code, count]) => (
              <tr key={code}>
                <th scope="row">
                  <code>{code}</code>
                </th>
                <td>{count}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Section>
  );
}

function RunHistory({ name }: { name: string }) {
  const { t } = useTranslation();
  const language = useLanguage();
  const [pages, setPages] = useState<(string | null)[]>([null]);
  const before = pages[pages.length - 1] ?? null;
  const runs = useRuns(name, before);
  return (
    <section className="ops-section">
      {runs.isError && <ProblemMessage error={runs.error} />}
      {runs.isPending && <p role="status">{t("common.loading")}</p>}
      {runs.data && (
        <div className="table-wrap">
          <table className="records" aria-busy={runs.isFetching}>
            <caption>{t("operations.health.history")}</caption>
            <thead>
              <tr>
                <th scope="col">{t("operations.run.status")}</th>
                <th scope="col">{t("operations.run.started")}</th>
                <th scope="col">{t("operations.run.duration")}</th>
                <th scope="col">{t("operations.run.key")}</th>
                <th scope="col">{t("operations.run.error")}</th>
                <th scope="col">{t("operations.run.column")}</th>
              </tr>
            </thead>
            <tbody>
              {runs.data.data.map((run) => (
                <tr key={run.id}>
                  <td>
                    <StatusText status={run.status} />
                  </td>
                  <td>{formatTime(run.started_at, language)}</td>
                  <td>
                    <Latency ms={run.duration_ms} />
                  </td>
                  <td>{run.key}</td>
                  <td className="ops-cell-wrap">{run.error ?? ""}</td>
                  <td>
                    <Link to={`/operations/runs/${encodeURIComponent(run.id)}`}>
                      {t("operations.run.open", { id: run.id.slice(0, 8) })}
                    </Link>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {runs.data && runs.data.data.length === 0 && <p>{t("operations.health.noRuns")}</p>}
      <div className="pager">
        {pages.length > 1 && (
          <button type="button" className="button" onClick={() => setPages(pages.slice(0, -1))}>
            {t("records.previousPage")}
          </button>
        )}
        {runs.data?.next_cursor && (
          <button
            type="button"
            className="button"
            onClick={() => setPages([...pages, runs.data.next_cursor])}
          >
            {t("operations.health.olderRuns")}
          </button>
        )}
      </div>
    </section>
  );
}
