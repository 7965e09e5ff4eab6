/**
 * /operations/runs/:runId — one scenario run: its summary, triggering event and every step
 * with its input, output, error and retries, as the API shows them to this reader (records
 * they may not see, and the inputs/outputs of a run that acted with rights they lack, are
 * withheld — said so, with the reason). A failed run can be retried (authors of scenarios).
 */
import type { ReactNode } from "react";
import { useTranslation } from "react-i18next";
import { Link, useParams } from "react-router";
import { useRetryRun, useRun, type RunDetail, type RunStep } from "../../api/operations";
import { ProblemMessage } from "../../components/ProblemMessage";
import { useDocumentTitle } from "../../components/useDocumentTitle";
import { useLanguage } from "../../components/useLanguage";
import { mayRetryRuns } from "../../operations/access";
import { formatTime } from "../../operations/format";
import { useMe } from "../../session/SessionContext";
import { ConfirmButton, JsonBlock, Latency, Section, StatusText } from "./common";

export default function RunPage() {
  const { t } = useTranslation();
  const runId = useParams().runId ?? "";
  const run = useRun(runId);
  const title = t("operations.run.title", { id: runId.slice(0, 8) });
  useDocumentTitle(title);
  return (
    <>
      <h1>{title}</h1>
      {run.isPending && <p role="status">{t("common.loading")}</p>}
      {run.isError && <ProblemMessage error={run.error} />}
      {run.data && <RunBody run={run.data} />}
    </>
  );
}

function RunBody({ run }: { run: RunDetail }) {
  const { t } = useTranslation();
  const language = useLanguage();
  const me = useMe();
  const retry = useRetryRun(run.id);
  const facts: [string, ReactNode][] = [
    [
      t("operations.run.scenario"),
      <Link key="scenario" to={`/operations/scenarios/${encodeURIComponent(run.scenario)}`}>
        {run.scenario}
      </Link>,
    ],
    [t("operations.run.status"), <StatusText key="status" status={run.status} />],
    [t("operations.run.version"), run.version],
    [t("operations.run.key"), run.key],
    [t("operations.run.started"), formatTime(run.started_at, language)],
    [t("operations.run.finished"), formatTime(run.finished_at, language) || t("operations.value.none")],
    [t("operations.run.duration"), <Latency key="duration" ms={run.duration_ms} />],
    [t("operations.run.runAs"), run.run_as ?? t("operations.value.none")],
  ];
  if (run.next_attempt_at) {
    facts.push([t("operations.run.nextAttempt"), formatTime(new Date(run.next_attempt_at * 1000).toISOString(), language)]);
  }
  return (
    <>
      <dl className="ops-summary">
        {facts.map(([label, value]) => (
          <div key={label}>
            <dt>{label}</dt>
            <dd>{value}</dd>
          </div>
        ))}
      </dl>
      {run.error && (
        <div className="problem" role="note">
          <p className="problem-title">{t("operations.run.error")}</p>
          <p>{run.error}</p>
        </div>
      )}
      {run.status === "failed" && mayRetryRuns(me) && (
        <div className="ops-actions">
          <ConfirmButton
            label={t("operations.run.retry")}
            question={t("operations.run.retry")}
            busy={retry.isPending}
            onConfirm={() => retry.mutate()}
          />
        </div>
      )}
      {retry.isSuccess && <p role="status">{t("operations.run.retried")}</p>}
      {retry.isError && <ProblemMessage error={retry.error} />}
      <Section title={t("operations.run.steps")}>
        {run.steps.map((step) => (
          <Step key={step.pointer} step={step} />
        ))}
      </Section>
      <Section title={t("operations.run.event")}>
        <JsonBlock value={run.event} label={t("operations.run.event")} />
      </Section>
      <Section title={t("operations.run.variables")}>
        <JsonBlock value={run.variables} label={t("operations.run.variables")} />
      </Section>
    </>
  );
}

function Step({ step }: { step: RunStep }) {
  const { t } = useTranslation();
  const language = useLanguage();
  return (
    <article className="ops-step" aria-labelledby={`step-${step.id}`}>
      <h3 id={`step-${step.id}`}>
        {t("operations.run.step", { id: step.id })}
        {step.action ? ` — ${step.action}` : ""}
      </h3>
      <dl className="ops-summary">
        <div>
          <dt>{t("operations.run.status")}</dt>
          <dd>
            <StatusText status={step.status} />
          </dd>
        </div>
        <div>
          <dt>{t("operations.run.attempts")}</dt>
          <dd>{step.attempts}</dd>
        </div>
        <div>
          <dt>{t("operations.run.retries")}</dt>
          <dd>{Math.max(0, step.attempts - 1)}</dd>
        </div>
        <div>
          <dt>{t("operations.run.started")}</dt>
          <dd>{formatTime(step.started_at, language) || t("operations.value.none")}</dd>
        </div>
        <div>
          <dt>{t("operations.run.finished")}</dt>
          <dd>{formatTime(step.finished_at, language) || t("operations.value.none")}</dd>
        </div>
      </dl>
      {step.error && (
        <div className="problem" role="note">
          <p className="problem-title">
            {t("operations.run.error")}
            {step.error_code ? ` (${step.error_code})` : ""}
          </p>
          <p>{step.error}</p>
        </div>
      )}
      <div className="ops-columns">
        <div>
          <h4>{t("operations.run.input")}</h4>
          <JsonBlock value={step.input} label={`${t("operations.run.step", { id: step.id })}: ${t("operations.run.input")}`} />
        </div>
        <div>
          <h4>{t("operations.run.output")}</h4>
          <JsonBlock value={step.output} label={`${t("operations.run.step", { id: step.id })}: ${t("operations.run.output")}`} />
        </div>
      </div>
    </article>
  );
}
