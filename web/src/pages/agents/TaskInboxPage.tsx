/**
 * /tasks — the human-task inbox: open tasks assigned to the user or their roles (the API
 * filters), each with its context, the SLA countdown (time left; overdue in red and in words),
 * and approve / reject / modify (edit the proposed values the task lets change). A decided task
 * leaves the inbox; the decision's result stays on the page with the run's new status.
 */
import { useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link } from "react-router";
import { agentKeys, useAgentCalls, useTasks, type DecisionResult, type HumanTask } from "../../api/agents";
import { ApiProblem } from "../../api/problem";
import { ProblemMessage } from "../../components/ProblemMessage";
import { useDocumentTitle } from "../../components/useDocumentTitle";
import { formatDuration, slaState } from "../../agents/sla";
import "../../styles/agents.css";
import { StatusBadge, useFormat, ValueView } from "./parts";

function useClock(): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, []);
  return now;
}

function Sla({ task, now }: { task: HumanTask; now: number }) {
  const { t, i18n } = useTranslation();
  const format = useFormat();
  const state = slaState(task.due_at, now);
  const units = {
    d: t("agents.sla.d"),
    h: t("agents.sla.h"),
    m: t("agents.sla.m"),
    s: t("agents.sla.s"),
    // Chinese writes the parts together ("3小时05分"), English with spaces ("3 h 05 min").
    separator: i18n.language === "zh-CN" ? "" : " ",
  };
  const time = formatDuration(state.seconds, units);
  return (
    <p className={state.overdue ? "agents-sla agents-sla-overdue" : "agents-sla"}>
      <span>{state.overdue ? t("agents.sla.overdue", { time }) : t("agents.sla.left", { time })}</span>{" "}
      <span className="muted">{t("agents.sla.due", { at: format.dateTime(task.due_at) })}</span>
    </p>
  );
}

/** The values a modification may change, prefilled from the task's proposal (or details). */
function proposed(task: HumanTask): Record<string, unknown> {
  const details = task.details;
  const proposal =
    typeof details.proposal === "object" && details.proposal !== null && !Array.isArray(details.proposal)
      ? (details.proposal as Record<string, unknown>)
      : {};
  return Object.fromEntries(task.modifiable.map((name) => [name, proposal[name] ?? details[name] ?? ""]));
}

function asInput(value: unknown): string {
  return typeof value === "string" ? value : JSON.stringify(value);
}

/** What a person typed for a proposed value, as the type the proposal had. */
function fromInput(text: string, was: unknown): unknown {
  if (typeof was === "number") return text.trim() === "" || Number.isNaN(Number(text)) ? text : Number(text);
  if (typeof was === "boolean") return text === "true";
  if (typeof was === "string") return text;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

function TaskCard({
  task,
  now,
  onDecided,
}: {
  task: HumanTask;
  now: number;
  onDecided: (result: DecisionResult) => void;
}) {
  const { t } = useTranslation();
  const calls = useAgentCalls();
  const [comment, setComment] = useState("");
  const [modifying, setModifying] = useState(false);
  const proposal = proposed(task);
  const [values, setValues] = useState<Record<string, string>>(() =>
    Object.fromEntries(Object.entries(proposal).map(([k, v]) => [k, asInput(v)])),
  );
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const headingId = `task-${task.id}`;
  const fieldErrors = new Map<string, string>();
  if (error instanceof ApiProblem) {
    for (const e of error.errors) {
      const match = /^\/values\/([^/]+)/.exec(e.path);
      if (match?.[1]) fieldErrors.set(match[1], e.message);
    }
  }

  const decide = async (outcome: "approved" | "rejected" | "modified") => {
    setBusy(true);
    setError(null);
    try {
      const changed =
        outcome === "modified"
          ? Object.fromEntries(Object.entries(values).map(([k, v]) => [k, fromInput(v, proposal[k])]))
          : undefined;
      const result = await calls.decide(task.id, {
        outcome,
        ...(changed ? { values: changed } : {}),
        comment: comment.trim() === "" ? null : comment.trim(),
      });
      onDecided(result);
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  };

  return (
    <article className="agents-task-card" aria-labelledby={headingId}>
      <h2 id={headingId}>{task.title}</h2>
      <Sla task={task} now={now} />
      <p className="agents-meta">
        {t("agents.tasks.from", { agent: task.agent, step: task.step })} ·{" "}
        {task.reason === "error" ? t("agents.tasks.reasonError") : t("agents.tasks.reasonStep")} ·{" "}
        {t("agents.tasks.assigned", { who: task.assignee.user ?? task.assignee.role ?? "" })}
        {task.escalations > 0 ? ` · ${t("agents.tasks.escalated", { count: task.escalations })}` : ""} ·{" "}
        <Link to={`/agent-runs/${task.root_id}`}>{t("agents.tasks.openRun")}</Link>
      </p>
      <h3>{t("agents.tasks.context")}</h3>
      <ValueView value={task.details} />
      <form
        className="agents-decision"
        onSubmit={(event) => {
          event.preventDefault();
          void decide("modified");
        }}
      >
        <div className="field">
          <label htmlFor={`${headingId}-comment`}>{t("agents.tasks.comment")}</label>
          <textarea id={`${headingId}-comment`} rows={2} value={comment} onChange={(e) => setComment(e.target.value)} />
        </div>
        {modifying && (
          <fieldset className="field">
            <legend>{t("agents.tasks.proposed")}</legend>
            {Object.keys(values).map((name) => (
              <div className="field" key={name}>
                <label htmlFor={`${headingId}-value-${name}`}>{name}</label>
                <input
                  id={`${headingId}-value-${name}`}
                  value={values[name] ?? ""}
                  aria-invalid={fieldErrors.has(name) || undefined}
                  onChange={(e) => setValues((current) => ({ ...current, [name]: e.target.value }))}
                />
                {fieldErrors.get(name) && <p className="field-error">{fieldErrors.get(name)}</p>}
              </div>
            ))}
          </fieldset>
        )}
        {error !== null && <ProblemMessage error={error} />}
        <div className="form-actions">
          <button type="button" className="button button-primary" disabled={busy} onClick={() => void decide("approved")}>
            {t("agents.tasks.approve")}
          </button>
          <button type="button" className="button" disabled={busy} onClick={() => void decide("rejected")}>
            {t("agents.tasks.reject")}
          </button>
          {task.modifiable.length > 0 &&
            (modifying ? (
              <button type="submit" className="button" disabled={busy}>
                {t("agents.tasks.sendModified")}
              </button>
            ) : (
              <button type="button" className="button" disabled={busy} onClick={() => setModifying(true)}>
                {t("agents.tasks.modify")}
              </button>
            ))}
        </div>
      </form>
    </article>
  );
}

export default function TaskInboxPage() {
  const { t } = useTranslation();
  useDocumentTitle(t("agents.tasks.heading"));
  const tasks = useTasks();
  const now = useClock();
  const queryClient = useQueryClient();
  const [decided, setDecided] = useState<DecisionResult[]>([]);
  const done = new Set(decided.map((d) => d.task.id));
  const open = (tasks.data ?? []).filter((task) => !done.has(task.id));

  return (
    <div className="agents-page">
      <h1>{t("agents.tasks.heading")}</h1>
      <p className="hint">{t("agents.tasks.intro")}</p>
      {decided.length > 0 && (
        <section aria-labelledby="decided-heading" className="agents-decided">
          <h2 id="decided-heading">{t("agents.tasks.decidedHeading")}</h2>
          <div role="status">
          <ul>
            {decided.map((result) => (
              <li key={result.task.id}>
                {t("agents.tasks.decidedLine", {
                  title: result.task.title,
                  outcome: result.task.outcome ? t(`agents.tasks.outcome.${result.task.outcome}`) : "",
                })}{" "}
                {t("agents.tasks.runNow")} <StatusBadge status={result.run.status} />{" "}
                <Link to={`/agent-runs/${result.run.id}`}>{t("agents.tasks.openRun")}</Link>
              </li>
            ))}
          </ul>
          </div>
        </section>
      )}
      {tasks.isPending && <p role="status">{t("common.loading")}</p>}
      {tasks.error ? <ProblemMessage error={tasks.error} /> : null}
      {tasks.isSuccess && open.length === 0 && <p role="status">{t("agents.tasks.empty")}</p>}
      {open.length > 0 && (
        <p className="hint">{t("agents.tasks.count", { count: open.length })}</p>
      )}
      {open.map((task) => (
        <TaskCard
          key={task.id}
          task={task}
          now={now}
          onDecided={(result) => {
            setDecided((current) => [result, ...current]);
            void queryClient.invalidateQueries({ queryKey: agentKeys.tasks });
            void queryClient.invalidateQueries({ queryKey: agentKeys.run(result.run.id) });
          }}
        />
      ))}
    </div>
  );
}
