/**
 * /agents/:name/evaluations — the agent's golden cases (list, add), running an evaluation
 * (every case k times: pass^k and the deviation rate), and its quality over time: pass^k,
 * deviation and intervention rates of every evaluation so far.
 */
import { useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useParams } from "react-router";
import {
  agentKeys,
  useAgentCalls,
  useCases,
  useEvaluationHistory,
  type EvaluationReport,
} from "../../api/agents";
import { ApiProblem } from "../../api/problem";
import { ProblemMessage } from "../../components/ProblemMessage";
import { useDocumentTitle } from "../../components/useDocumentTitle";
import { useMe } from "../../session/SessionContext";
import "../../styles/agents.css";
import { AUTHORS } from "./AgentsPage";
import { EvaluationChart } from "./EvaluationChart";
import { parseJsonObject, useFormat, ValueView } from "./parts";

function fieldProblems(error: unknown, prefix: string): string[] {
  if (!(error instanceof ApiProblem)) return [];
  return error.errors.filter((e) => e.path === prefix || e.path.startsWith(`${prefix}/`)).map((e) => e.message);
}

function AddCase({ name }: { name: string }) {
  const { t } = useTranslation();
  const calls = useAgentCalls();
  const queryClient = useQueryClient();
  const [caseName, setCaseName] = useState("");
  const [inputs, setInputs] = useState("{}");
  const [expected, setExpected] = useState('{"_status": "succeeded"}');
  const [local, setLocal] = useState<Record<string, string>>({});
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [added, setAdded] = useState<string | null>(null);

  const submit = async () => {
    const parsedInputs = parseJsonObject(inputs);
    const parsedExpected = parseJsonObject(expected);
    const problems: Record<string, string> = {};
    if (caseName.trim() === "") problems.name = t("agents.evaluations.nameRequired");
    if ("error" in parsedInputs) problems.inputs = t("agents.evaluations.badJson");
    if ("error" in parsedExpected) problems.expected = t("agents.evaluations.badJson");
    setLocal(problems);
    if (Object.keys(problems).length > 0 || "error" in parsedInputs || "error" in parsedExpected) return;
    setBusy(true);
    setError(null);
    try {
      const saved = await calls.addCase(name, {
        name: caseName.trim(),
        inputs: parsedInputs.value,
        expected: parsedExpected.value,
      });
      setAdded(saved.name);
      setCaseName("");
      await queryClient.invalidateQueries({ queryKey: agentKeys.cases(name) });
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  };

  const fields: { key: "name" | "inputs" | "expected"; label: string; value: string; set: (v: string) => void; hint?: string }[] = [
    { key: "name", label: t("agents.evaluations.caseName"), value: caseName, set: setCaseName },
    { key: "inputs", label: t("agents.evaluations.inputs"), value: inputs, set: setInputs, hint: t("agents.evaluations.inputsHint") },
    {
      key: "expected",
      label: t("agents.evaluations.expected"),
      value: expected,
      set: setExpected,
      hint: t("agents.evaluations.expectedHint"),
    },
  ];

  return (
    <form
      className="agents-case-form"
      aria-labelledby="add-case-heading"
      onSubmit={(event) => {
        event.preventDefault();
        void submit();
      }}
    >
      <h3 id="add-case-heading">{t("agents.evaluations.addCase")}</h3>
      {fields.map((field) => {
        const messages = [...(local[field.key] ? [local[field.key] ?? ""] : []), ...fieldProblems(error, `/${field.key}`)];
        const id = `case-${field.key}`;
        return (
          <div className="field" key={field.key}>
            <label htmlFor={id}>{field.label}</label>
            {field.key === "name" ? (
              <input id={id} value={field.value} onChange={(e) => field.set(e.target.value)} aria-invalid={messages.length > 0 || undefined} aria-describedby={messages.length > 0 ? `${id}-error` : undefined} />
            ) : (
              <textarea id={id} rows={3} value={field.value} onChange={(e) => field.set(e.target.value)} aria-invalid={messages.length > 0 || undefined} aria-describedby={messages.length > 0 ? `${id}-error` : undefined} />
            )}
            {field.hint && <p className="hint">{field.hint}</p>}
            {messages.length > 0 && (
              <p id={`${id}-error`} className="field-error">
                {messages.join(" ")}
              </p>
            )}
          </div>
        );
      })}
      {error !== null && <ProblemMessage error={error} />}
      {added && error === null && (
        <p role="status" className="notice">
          {t("agents.evaluations.caseAdded", { name: added })}
        </p>
      )}
      <button type="submit" className="button" disabled={busy}>
        {t("agents.evaluations.addCase")}
      </button>
    </form>
  );
}

function Report({ report }: { report: EvaluationReport }) {
  const { t } = useTranslation();
  const format = useFormat();
  return (
    <section aria-labelledby="report-heading" className="agents-report">
      <h3 id="report-heading">{t("agents.evaluations.reportHeading")}</h3>
      <p role="status">
        {t("agents.evaluations.reportLine", {
          k: report.k,
          passK: format.percent(report.pass_k),
          runs: report.runs,
          deviation: format.percent(report.deviation_rate),
          target: format.percent(report.deviation_target),
        })}{" "}
        {report.meets_target ? t("agents.evaluations.meets") : t("agents.evaluations.misses")}
      </p>
      <div className="table-wrap">
        <table className="records">
          <caption>{t("agents.evaluations.byCase")}</caption>
          <thead>
            <tr>
              <th scope="col">{t("agents.evaluations.caseName")}</th>
              <th scope="col">{t("agents.list.version")}</th>
              <th scope="col">{t("agents.evaluations.passed")}</th>
              <th scope="col">{t("agents.evaluations.deviations")}</th>
            </tr>
          </thead>
          <tbody>
            {Object.entries(report.detail).flatMap(([caseName, detail]) =>
              Object.entries(detail.versions).map(([version, result]) => (
                <tr key={`${caseName}-${version}`}>
                  <th scope="row">{caseName}</th>
                  <td>{version}</td>
                  <td>
                    {t("agents.evaluations.passedOf", { passed: result.passed, k: report.k })}{" "}
                    {result.runs.map((run, index) => (
                      <Link key={run.run} to={`/agent-runs/${run.run}`} className="agents-run-link">
                        {t("agents.evaluations.runN", { n: index + 1 })}
                      </Link>
                    ))}
                  </td>
                  <td>{detail.deviations}</td>
                </tr>
              )),
            )}
          </tbody>
        </table>
      </div>
    </section>
  );
}

export default function EvaluationsPage() {
  const { t } = useTranslation();
  const { name = "" } = useParams();
  useDocumentTitle(t("agents.evaluations.title", { name }));
  const me = useMe();
  const author = me.roles.some((role) => AUTHORS.includes(role));
  const calls = useAgentCalls();
  const queryClient = useQueryClient();
  const cases = useCases(name);
  const history = useEvaluationHistory(name);
  const format = useFormat();
  const [k, setK] = useState("3");
  const [report, setReport] = useState<EvaluationReport | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const run = async () => {
    setBusy(true);
    setError(null);
    try {
      const result = await calls.evaluate(name, Number(k));
      setReport(result);
      await queryClient.invalidateQueries({ queryKey: agentKeys.history(name) });
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  };
  const kProblems = fieldProblems(error, "/k");

  return (
    <div className="agents-page">
      <h1>{t("agents.evaluations.heading", { name })}</h1>
      <p>
        <Link to={`/agents/${name}`}>{t("agents.evaluations.toDesigner")}</Link>
      </p>

      <section aria-labelledby="history-heading">
        <h2 id="history-heading">{t("agents.evaluations.overTime")}</h2>
        {history.error ? <ProblemMessage error={history.error} /> : null}
        {history.data?.length === 0 && <p>{t("agents.evaluations.noHistory")}</p>}
        {history.data && history.data.length > 0 && <EvaluationChart points={history.data} />}
      </section>

      <section aria-labelledby="cases-heading">
        <h2 id="cases-heading">{t("agents.evaluations.cases")}</h2>
        {cases.error ? <ProblemMessage error={cases.error} /> : null}
        {cases.data?.length === 0 && <p>{t("agents.evaluations.noCases")}</p>}
        {cases.data && cases.data.length > 0 && (
          <div className="table-wrap">
            <table className="records">
              <caption>{t("agents.evaluations.casesCaption", { count: cases.data.length })}</caption>
              <thead>
                <tr>
                  <th scope="col">{t("agents.evaluations.caseName")}</th>
                  <th scope="col">{t("agents.evaluations.inputs")}</th>
                  <th scope="col">{t("agents.evaluations.expected")}</th>
                </tr>
              </thead>
              <tbody>
                {cases.data.map((c) => (
                  <tr key={c.id}>
                    <th scope="row">{c.name}</th>
                    <td>
                      <ValueView value={c.inputs} />
                    </td>
                    <td>
                      <ValueView value={c.expected} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        {author && <AddCase name={name} />}
      </section>

      {author && (
        <section aria-labelledby="run-evaluation-heading">
          <h2 id="run-evaluation-heading">{t("agents.evaluations.run")}</h2>
          <form
            onSubmit={(event) => {
              event.preventDefault();
              void run();
            }}
          >
            <div className="field">
              <label htmlFor="evaluation-k">{t("agents.evaluations.k")}</label>
              <input
                id="evaluation-k"
                type="number"
                min={1}
                max={50}
                value={k}
                onChange={(e) => setK(e.target.value)}
                aria-invalid={kProblems.length > 0 || undefined}
                aria-describedby={kProblems.length > 0 ? "evaluation-k-error" : "evaluation-k-hint"}
              />
              <p className="hint" id="evaluation-k-hint">
                {t("agents.evaluations.kHint")}
              </p>
              {kProblems.length > 0 && (
                <p className="field-error" id="evaluation-k-error">
                  {kProblems.join(" ")}
                </p>
              )}
            </div>
            {error !== null && <ProblemMessage error={error} />}
            <button type="submit" className="button button-primary" disabled={busy}>
              {busy ? t("agents.evaluations.running") : t("agents.evaluations.run")}
            </button>
          </form>
          {report && <Report report={report} />}
        </section>
      )}

      {history.data && history.data.length > 0 && (
        <section aria-labelledby="past-heading">
          <h2 id="past-heading">{t("agents.evaluations.past")}</h2>
          <ul>
            {[...history.data].reverse().map((point) => (
              <li key={point.id}>
                {t("agents.evaluations.pastLine", {
                  at: format.dateTime(point.created_at),
                  k: point.k,
                  passK: format.percent(point.pass_k),
                  deviation: format.percent(point.deviation_rate),
                  intervention: format.percent(point.intervention_rate),
                  runs: point.runs,
                })}
              </li>
            ))}
          </ul>
        </section>
      )}
    </div>
  );
}
