/**
 * /operations — every scenario with its health over a chosen period: runs, success rate,
 * p50/p99 latency, the last failure and the business impact value; each links to its health
 * page. Links to the dead-letter inbox and the live tail for those who may use them.
 */
import { useTranslation } from "react-i18next";
import { Link } from "react-router";
import { useHealthOf, useScenarioList, type ScenarioHealth } from "../../api/operations";
import { ProblemMessage } from "../../components/ProblemMessage";
import { useDocumentTitle } from "../../components/useDocumentTitle";
import { useLanguage } from "../../components/useLanguage";
import { mayManageDeadLetters, mayTailEvents } from "../../operations/access";
import { formatNumber, formatTime, percent } from "../../operations/format";
import { useMe } from "../../session/SessionContext";
import { Latency, PeriodPicker, usePeriod } from "./common";

export default function OperationsPage() {
  const { t } = useTranslation();
  const me = useMe();
  const [period, setPeriod] = usePeriod();
  const scenarios = useScenarioList();
  const names = (scenarios.data ?? []).map((s) => s.name);
  const health = useHealthOf(names, period);
  useDocumentTitle(t("operations.heading"));

  return (
    <>
      <h1>{t("operations.heading")}</h1>
      <ul className="ops-links">
        {mayManageDeadLetters(me) && (
          <li>
            <Link to="/operations/dead-letters">{t("operations.links.deadLetters")}</Link>
          </li>
        )}
        {mayTailEvents(me) && (
          <li>
            <Link to="/operations/live">{t("operations.links.live")}</Link>
          </li>
        )}
      </ul>
      <div className="toolbar">
        <PeriodPicker period={period} onChange={setPeriod} />
      </div>
      {scenarios.isPending && <p role="status">{t("common.loading")}</p>}
      {scenarios.isError && <ProblemMessage error={scenarios.error} />}
      {scenarios.data && scenarios.data.length === 0 && <p>{t("operations.overview.none")}</p>}
      {scenarios.data && scenarios.data.length > 0 && (
        <div className="table-wrap">
          <table className="records">
            <caption>{t("operations.overview.caption")}</caption>
            <thead>
              <tr>
                <th scope="col">{t("operations.overview.scenario")}</th>
                <th scope="col">{t("operations.overview.enabled")}</th>
                <th scope="col">{t("operations.overview.runs")}</th>
                <th scope="col">{t("operations.overview.successRate")}</th>
                <th scope="col">{t("operations.overview.p50")}</th>
                <th scope="col">{t("operations.overview.p99")}</th>
                <th scope="col">{t("operations.overview.lastFailure")}</th>
                <th scope="col">{t("operations.overview.impact")}</th>
              </tr>
            </thead>
            <tbody>
              {scenarios.data.map((scenario, index) => {
                const result = health[index];
                return (
                  <tr key={scenario.name}>
                    <th scope="row">
                      <Link to={`/operations/scenarios/${encodeURIComponent(scenario.name)}?period=${period}`}>
                        {scenario.name}
                      </Link>
                      <div className="muted">{scenario.title}</div>
                    </th>
                    <td>{scenario.enabled ? t("operations.overview.on") : t("operations.overview.off")}</td>
                    {result?.data ? (
                      <HealthCells health={result.data} />
                    ) : (
                      <td colSpan={6}>
                        {result?.isError ? <ProblemMessage error={result.error} /> : t("common.loading")}
                      </td>
                    )}
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      <p className="hint">{t("operations.impactHelp")}</p>
    </>
  );
}

function HealthCells({ health }: { health: ScenarioHealth }) {
  const { t } = useTranslation();
  const rate = percent(health.success_rate);
  return (
    <>
      <td>{health.runs}</td>
      <td>{rate === null ? t("operations.value.none") : t("operations.value.percent", { value: rate })}</td>
      <td>
        <Latency ms={health.latency_ms.p50} />
      </td>
      <td>
        <Latency ms={health.latency_ms.p99} />
      </td>
      <td className="ops-cell-wrap">
        <LastFailure health={health} />
      </td>
      <td>
        <Impact health={health} />
      </td>
    </>
  );
}

export function LastFailure({ health }: { health: ScenarioHealth }) {
  const { t } = useTranslation();
  const language = useLanguage();
  const failure = health.last_failure;
  if (!failure) return <>{t("operations.value.none")}</>;
  const when = formatTime(failure.at, language);
  if (failure.step === null) return <>{t("operations.value.failureNoStep", { when })}</>;
  return (
    <>
      {t("operations.value.failureAt", {
        code: failure.error_code ?? t("operations.value.none"),
        step: failure.step,
        when,
      })}
    </>
  );
}

export function Impact({ health }: { health: ScenarioHealth }) {
  const { t } = useTranslation();
  const language = useLanguage();
  const impact = health.business_impact;
  if (!impact) return <>{t("operations.value.impactNone")}</>;
  return (
    <>
      {t("operations.impactValue", {
        measure: t(`operations.measures.${impact.measure}`),
        value: formatNumber(impact.value, language),
        runs: impact.runs,
      })}
    </>
  );
}
