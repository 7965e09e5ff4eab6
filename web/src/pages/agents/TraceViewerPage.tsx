/**
 * /agent-runs/:runId — a run's decision trace: the waterfall of every step (start and
 * duration against the run's span), and per step what it read, its rule rows, its tool
 * request and response, an LLM output with its AIGC label, its task, its error; the records the
 * run read (redacted for the reader by the API: withheld values say so); sub-agent runs; and
 * the ledger proof from /verify.
 */
import { useEffect, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useParams } from "react-router";
import { useRun, useVerification, type RunStep, type RunTrace } from "../../api/agents";
import { ApiProblem } from "../../api/problem";
import { ProblemMessage } from "../../components/ProblemMessage";
import { useDocumentTitle } from "../../components/useDocumentTitle";
import { isStepKind } from "../../agents/definition";
import { llmOutput, proofState, ruleRows, toolCall, waterfall } from "../../agents/trace";
import "../../styles/agents.css";
import { StatusBadge, useFormat, ValueView } from "./parts";

function KindName({ kind }: { kind: string }) {
  const { t } = useTranslation();
  return <>{isStepKind(kind) ? t(`agents.kinds.${kind}`) : kind}</>;
}

function useNow(active: boolean): number {
  const [now, setNow] = useState(() => Date.now() / 1000);
  useEffect(() => {
    if (!active) return;
    const timer = setInterval(() => setNow(Date.now() / 1000), 1000);
    return () => clearInterval(timer);
  }, [active]);
  return now;
}

function Waterfall({ run }: { run: RunTrace }) {
  const { t } = useTranslation();
  const format = useFormat();
  const now = useNow(run.status === "waiting" || run.status === "running");
  const { bars, spanMs } = waterfall(run.steps, now);
  const unstarted = run.steps.filter((s) => s.started_at === null);
  return (
    <section aria-labelledby={`waterfall-${run.id}`}>
      <h2 id={`waterfall-${run.id}`}>{t("agents.trace.timeline")}</h2>
      <p className="hint">{t("agents.trace.span", { ms: format.ms(spanMs) })}</p>
      <div className="table-wrap">
        <table className="records agents-waterfall">
          <caption>{t("agents.trace.timelineCaption", { agent: run.agent })}</caption>
          <thead>
            <tr>
              <th scope="col">{t("agents.trace.step")}</th>
              <th scope="col">{t("agents.trace.kind")}</th>
              <th scope="col">{t("agents.list.status")}</th>
              <th scope="col">{t("agents.trace.start")}</th>
              <th scope="col">{t("agents.list.duration")}</th>
              <th scope="col" className="agents-bar-column">
                {t("agents.trace.bar")}
              </th>
            </tr>
          </thead>
          <tbody>
            {bars.map((bar) => (
              <tr key={bar.step.step}>
                <th scope="row">
                  <a href={`#step-${run.id}-${bar.step.step}`}>{bar.step.step}</a>
                </th>
                <td>
                  <KindName kind={bar.step.kind} />
                </td>
                <td>
                  <StatusBadge status={bar.step.status} />
                </td>
                <td>{format.ms(bar.startMs)}</td>
                <td>{bar.open ? t("agents.trace.ongoing") : format.ms(bar.step.duration_ms)}</td>
                <td className="agents-bar-cell" aria-hidden="true">
                  <span
                    className={`agents-bar agents-bar-${bar.step.kind} agents-bar-status-${bar.step.status}${bar.open ? " agents-bar-open" : ""}`}
                    style={{ marginLeft: `${bar.offset}%`, width: `${bar.width}%` }}
                  />
                </td>
              </tr>
            ))}
            {unstarted.map((step) => (
              <tr key={step.step}>
                <th scope="row">
                  <a href={`#step-${run.id}-${step.step}`}>{step.step}</a>
                </th>
                <td>
                  <KindName kind={step.kind} />
                </td>
                <td>
                  <StatusBadge status={step.status} />
                </td>
                <td colSpan={3}>{t("agents.trace.notStarted")}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

function StepDetail({ run, step }: { run: RunTrace; step: RunStep }) {
  const { t } = useTranslation();
  const task = run.tasks.find((candidate) => candidate.step === step.step);
  const rules = step.kind === "rule" ? ruleRows(step.trace) : null;
  const llm = step.kind === "llm" ? llmOutput(step.output, step.trace) : null;
  const tool = step.kind === "tool" ? toolCall(step.input, step.output, step.trace) : null;
  const traced = (step.trace ?? {}) as Record<string, unknown>;
  const child = step.kind === "agent" && typeof traced.run === "string" ? traced.run : null;
  return (
    <details className="agents-step-detail" id={`step-${run.id}-${step.step}`} open={step.status === "waiting" || step.status === "failed" || step.kind === "llm"}>
      <summary>
        <strong>{step.step}</strong> · <KindName kind={step.kind} /> · <StatusBadge status={step.status} />
        {step.attempts > 1 ? ` · ${t("agents.trace.attempts", { count: step.attempts })}` : ""}
      </summary>
      {step.error && (
        <div className="problem">
          <p className="problem-title">{t("agents.trace.error")}</p>
          <p>
            {step.error_code ? <code>{step.error_code}</code> : null} {step.error}
          </p>
        </div>
      )}
      {typeof traced.route === "string" && (
        <p className="notice">{t("agents.trace.route", { route: traced.route })}</p>
      )}
      {rules && (
        <div className="table-wrap">
          <table className="records">
            <caption>{t("agents.trace.ruleRows")}</caption>
            <thead>
              <tr>
                <th scope="col">{t("agents.trace.row")}</th>
                <th scope="col">{t("agents.trace.when")}</th>
                <th scope="col">{t("agents.trace.result")}</th>
              </tr>
            </thead>
            <tbody>
              {rules.rows.map((row) => (
                <tr key={row.row}>
                  <td>{row.row + 1}</td>
                  <td>
                    <code>{row.when}</code>
                  </td>
                  <td>{row.value ? t("agents.trace.held") : t("agents.trace.notHeld")}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <p>
            {rules.matched === "default"
              ? t("agents.trace.matchedDefault")
              : rules.matched && rules.matched.length > 0
                ? t("agents.trace.matchedRows", { rows: rules.matched.map((m) => m + 1).join(", ") })
                : null}
          </p>
        </div>
      )}
      {tool && (
        <div className="agents-columns">
          <div>
            <h3>{t("agents.trace.request", { tool: tool.name ?? "" })}</h3>
            <ValueView value={tool.request} />
          </div>
          <div>
            <h3>{t("agents.trace.response")}</h3>
            <ValueView value={tool.response} />
          </div>
        </div>
      )}
      {llm && (
        <div className="agents-llm">
          <p className={llm.aiGenerated ? "agents-aigc agents-aigc-yes" : "agents-aigc"}>
            {llm.aiGenerated
              ? t("agents.trace.aigc", { label: llm.label ?? "", model: [llm.provider, llm.model].filter(Boolean).join(" / ") })
              : t("agents.trace.notAigc", { reason: llm.fallbackReason ?? "" })}
          </p>
          <blockquote className="agents-llm-text">{llm.text}</blockquote>
          {step.input !== null && (
            <details>
              <summary>{t("agents.trace.prompt")}</summary>
              <ValueView value={step.input} />
            </details>
          )}
        </div>
      )}
      {task && (
        <div className="agents-task">
          <h3>{t("agents.trace.task", { title: task.title })}</h3>
          <p>
            {task.status === "open"
              ? t("agents.trace.taskOpen", { who: task.assignee.user ?? task.assignee.role ?? "" })
              : t("agents.trace.taskDecided", {
                  outcome: task.outcome ? t(`agents.tasks.outcome.${task.outcome}`) : "",
                  who: task.decided_by ?? "",
                })}
          </p>
          {task.status === "open" && <Link to="/tasks">{t("agents.trace.toInbox")}</Link>}
          {task.comment && <p>{t("agents.trace.comment", { comment: task.comment })}</p>}
        </div>
      )}
      {child && (
        <p>
          <Link to={`/agent-runs/${child}`}>{t("agents.trace.childRun", { id: child.slice(0, 8) })}</Link>
        </p>
      )}
      {!tool && !llm && step.input !== null && step.input !== undefined && (
        <div>
          <h3>{t("agents.trace.input")}</h3>
          <ValueView value={step.input} />
        </div>
      )}
      {!tool && !llm && step.output !== null && step.output !== undefined && (
        <div>
          <h3>{t("agents.trace.output")}</h3>
          <ValueView value={step.output} />
        </div>
      )}
    </details>
  );
}

function Proof({ run }: { run: RunTrace }) {
  const { t } = useTranslation();
  const finished = run.status === "succeeded" || run.status === "failed";
  const verification = useVerification(run.id, finished);
  const notYet = verification.error instanceof ApiProblem && verification.error.status === 409;
  const state = proofState(verification.data ?? null, notYet);
  return (
    <section aria-labelledby="proof-heading" className="agents-proof">
      <h2 id="proof-heading">{t("agents.trace.proof")}</h2>
      {verification.isPending && <p role="status">{t("common.loading")}</p>}
      {state && (
        <p role="status" className={`agents-proof-state agents-proof-${state}`}>
          {t(`agents.trace.proofState.${state}`)}
        </p>
      )}
      {state && <p>{t(`agents.trace.proofExplain.${state}`)}</p>}
      {verification.data && (
        <dl className="agents-dl">
          <div className="agents-dl-row">
            <dt>{t("agents.trace.ledgerIndex")}</dt>
            <dd>{verification.data.ledger_index}</dd>
          </div>
          <div className="agents-dl-row">
            <dt>{t("agents.trace.digest")}</dt>
            <dd>
              <code>{verification.data.digest}</code>
            </dd>
          </div>
          {verification.data.problems.length > 0 && (
            <div className="agents-dl-row">
              <dt>{t("agents.trace.proofProblems")}</dt>
              <dd>
                <ul>
                  {verification.data.problems.map((p) => (
                    <li key={p}>{p}</li>
                  ))}
                </ul>
              </dd>
            </div>
          )}
        </dl>
      )}
      {verification.error && !notYet && <ProblemMessage error={verification.error} />}
      {notYet && (
        <button type="button" className="button" onClick={() => void verification.refetch()}>
          {t("agents.trace.checkAgain")}
        </button>
      )}
    </section>
  );
}

function reads(run: RunTrace): unknown {
  const value = run.reads as { values?: unknown } | null;
  return value && typeof value === "object" && "values" in value ? value.values : value;
}

export default function TraceViewerPage() {
  const { t } = useTranslation();
  const { runId = "" } = useParams();
  const run = useRun(runId);
  const format = useFormat();
  const title = run.data ? t("agents.trace.heading", { agent: run.data.agent }) : t("agents.trace.title");
  useDocumentTitle(title);
  if (run.error) {
    return (
      <div className="agents-page">
        <h1>{t("agents.trace.title")}</h1>
        <ProblemMessage error={run.error} />
      </div>
    );
  }
  if (!run.data) {
    return (
      <div className="agents-page">
        <h1>{t("agents.trace.title")}</h1>
        <p role="status">{t("common.loading")}</p>
      </div>
    );
  }
  const data = run.data;
  return (
    <div className="agents-page agents-trace">
      <h1>{title}</h1>
      <dl className="agents-dl agents-summary">
        <div className="agents-dl-row">
          <dt>{t("agents.list.status")}</dt>
          <dd>
            <StatusBadge status={data.status} />
          </dd>
        </div>
        <div className="agents-dl-row">
          <dt>{t("agents.trace.run")}</dt>
          <dd>
            <code>{data.id}</code>
          </dd>
        </div>
        <div className="agents-dl-row">
          <dt>{t("agents.list.version")}</dt>
          <dd>
            <Link to={`/agents/${data.agent}`}>{t("agents.designer.version", { version: data.version })}</Link>
          </dd>
        </div>
        <div className="agents-dl-row">
          <dt>{t("agents.list.started")}</dt>
          <dd>
            {format.dateTime(data.started_at)} ({data.started_by ?? ""})
          </dd>
        </div>
        <div className="agents-dl-row">
          <dt>{t("agents.list.duration")}</dt>
          <dd>{data.finished_at ? format.ms(data.duration_ms) : t("agents.trace.ongoing")}</dd>
        </div>
        {data.parent_id && (
          <div className="agents-dl-row">
            <dt>{t("agents.trace.parent")}</dt>
            <dd>
              <Link to={`/agent-runs/${data.parent_id}`}>{data.parent_id.slice(0, 8)}</Link>
            </dd>
          </div>
        )}
      </dl>
      {data.error && (
        <div className="problem" role="alert">
          <p className="problem-title">{t("agents.trace.runFailed")}</p>
          <p>
            {data.error_code ? <code>{data.error_code}</code> : null} {data.error}
          </p>
        </div>
      )}
      <Waterfall run={data} />
      <section aria-labelledby="steps-detail-heading">
        <h2 id="steps-detail-heading">{t("agents.trace.steps")}</h2>
        {data.steps.map((step) => (
          <StepDetail key={step.step} run={data} step={step} />
        ))}
      </section>
      <div className="agents-columns">
        <section aria-labelledby="inputs-heading">
          <h2 id="inputs-heading">{t("agents.trace.inputs")}</h2>
          <ValueView value={data.inputs} />
        </section>
        <section aria-labelledby="outputs-heading">
          <h2 id="outputs-heading">{t("agents.trace.outputs")}</h2>
          <ValueView value={data.outputs} />
        </section>
      </div>
      <section aria-labelledby="reads-heading">
        <h2 id="reads-heading">{t("agents.trace.reads")}</h2>
        <ValueView value={reads(data)} />
      </section>
      {data.children.length > 0 && (
        <section aria-labelledby="children-heading">
          <h2 id="children-heading">{t("agents.trace.children")}</h2>
          <ul>
            {data.children.map((child) => (
              <li key={child.id}>
                <Link to={`/agent-runs/${child.id}`}>
                  {child.agent} · {child.id.slice(0, 8)}
                </Link>{" "}
                <StatusBadge status={child.status} />
              </li>
            ))}
          </ul>
        </section>
      )}
      <Proof run={data} />
    </div>
  );
}
