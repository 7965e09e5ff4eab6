/**
 * Dry run: a sample event (the latest of its type when you may read the event log, else an
 * example made from the type's JSON Schema), its data editable as a form (or as JSON), tried
 * against the draft by the server without acting — whether it would fire, every condition's
 * result, the branch taken and each step's rendered parameters.
 */
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { ApiProblem } from "../../api/problem";
import type { DryRunReport, EventTypeDetail, SampleEvent, ScenarioCalls } from "../../api/scenarios";
import { ProblemMessage } from "../../components/ProblemMessage";
import { isObject, type Definition } from "../../scenario-builder/definition";
import { valueText } from "../../scenario-builder/params";
import { LabeledSelect } from "./LabeledSelect";

interface Props {
  definition: Definition;
  types: string[];
  schemas: EventTypeDetail[];
  calls: ScenarioCalls;
}

type JsonSchema = Record<string, unknown>;

export function DryRunPanel({ definition, types, schemas, calls }: Props) {
  const { t, i18n } = useTranslation();
  const [type, setType] = useState("");
  const [sample, setSample] = useState<SampleEvent | null>(null);
  const [eventText, setEventText] = useState("");
  const [jsonError, setJsonError] = useState<string | null>(null);
  const [report, setReport] = useState<DryRunReport | null>(null);
  const [problem, setProblem] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const chosenType = type || types[0] || "";
  const event = sample ? (sample.event as Record<string, unknown>) : null;
  const data = event && isObject(event.data) ? event.data : {};
  const schema = schemas.find((s) => s.type === (event?.type ?? chosenType))?.schema;
  const properties = (isObject(schema?.properties) ? schema.properties : {}) as Record<string, JsonSchema>;

  const load = async () => {
    setBusy(true);
    setProblem(null);
    setReport(null);
    try {
      const loaded = await calls.sampleEvent(chosenType);
      setSample(loaded);
      setEventText(JSON.stringify(loaded.event, null, 2));
      setJsonError(null);
    } catch (error) {
      setProblem(error);
    } finally {
      setBusy(false);
    }
  };

  const setData = (name: string, value: unknown) => {
    if (!sample || !event) return;
    const next = { ...event, data: { ...data, [name]: value } };
    setSample({ ...sample, event: next });
    setEventText(JSON.stringify(next, null, 2));
  };

  const editJson = (text: string) => {
    setEventText(text);
    try {
      const parsed: unknown = JSON.parse(text);
      if (!isObject(parsed)) throw new Error(t("builder.dryRun.notObject"));
      setJsonError(null);
      if (sample) setSample({ ...sample, event: parsed });
    } catch (error) {
      setJsonError(error instanceof Error ? error.message : String(error));
    }
  };

  const run = async () => {
    if (!event) return;
    setBusy(true);
    setProblem(null);
    try {
      setReport(await calls.dryRun(definition, event));
    } catch (error) {
      setReport(null);
      setProblem(error);
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="dry-run">
      <p className="hint">{t("builder.dryRun.hint")}</p>
      {types.length === 0 ? (
        <p className="hint">{t("builder.dryRun.noTypes")}</p>
      ) : (
        <div className="button-row">
          <LabeledSelect label={t("builder.dryRun.type")} value={chosenType} onChange={(e) => setType(e.target.value)}>
              {types.map((item) => (
                <option key={item} value={item}>
                  {item}
                </option>
              ))}
            </LabeledSelect>
          <button type="button" onClick={() => void load()} disabled={busy}>
            {t("builder.dryRun.load")}
          </button>
        </div>
      )}
      {sample && event && (
        <>
          <p className="hint">
            {sample.source === "past" && sample.stored_at
              ? t("builder.dryRun.past", {
                  when: new Date(sample.stored_at).toLocaleString(i18n.language),
                })
              : t("builder.dryRun.example")}
          </p>
          <fieldset className="sample-form">
            <legend>{t("builder.dryRun.data")}</legend>
            {Object.entries(properties).map(([name, property]) => (
              <SampleField
                key={name}
                name={name}
                schema={property}
                value={data[name]}
                onChange={(value) => setData(name, value)}
              />
            ))}
          </fieldset>
          <details>
            <summary>{t("builder.dryRun.json")}</summary>
            <label className="stacked">
              <span>{t("builder.dryRun.jsonLabel")}</span>
              <textarea
                rows={10}
                value={eventText}
                aria-invalid={jsonError !== null || undefined}
                aria-describedby={jsonError ? "dry-run-json-error" : undefined}
                onChange={(e) => editJson(e.target.value)}
              />
            </label>
            {jsonError && (
              <p className="field-error" id="dry-run-json-error">
                {t("builder.dryRun.badJson", { detail: jsonError })}
              </p>
            )}
          </details>
          <button type="button" className="primary" onClick={() => void run()} disabled={busy || jsonError !== null}>
            {t("builder.dryRun.run")}
          </button>
        </>
      )}
      {busy && <p role="status">{t("common.loading")}</p>}
      {problem !== null && <DryRunProblem error={problem} />}
      {report && <Report report={report} />}
    </div>
  );
}

function DryRunProblem({ error }: { error: unknown }) {
  const { t } = useTranslation();
  return (
    <div>
      <p className="field-error">{t("builder.dryRun.failed")}</p>
      {error instanceof ApiProblem || error instanceof Error ? <ProblemMessage error={error} /> : null}
    </div>
  );
}

function SampleField({
  name,
  schema,
  value,
  onChange,
}: {
  name: string;
  schema: JsonSchema;
  value: unknown;
  onChange: (value: unknown) => void;
}) {
  const choices = Array.isArray(schema.enum) ? schema.enum.map(String) : null;
  const type = schema.type;
  if (choices) {
    return (
      <LabeledSelect label={name} value={valueText(value)} onChange={(e) => onChange(e.target.value)}>
          {choices.map((choice) => (
            <option key={choice} value={choice}>
              {choice}
            </option>
          ))}
        </LabeledSelect>
    );
  }
  if (type === "boolean") {
    return (
      <label className="check">
        <input type="checkbox" checked={value === true} onChange={(e) => onChange(e.target.checked)} />
        {name}
      </label>
    );
  }
  if (type === "number" || type === "integer") {
    return (
      <label>
        <span>{name}</span>
        <input
          inputMode="decimal"
          value={valueText(value)}
          onChange={(e) => {
            const number = Number(e.target.value);
            onChange(e.target.value.trim() !== "" && !Number.isNaN(number) ? number : e.target.value);
          }}
        />
      </label>
    );
  }
  if (type === "object" || type === "array") return null; // edited in the JSON below
  return (
    <label>
      <span>{name}</span>
      <input value={valueText(value)} onChange={(e) => onChange(e.target.value)} />
    </label>
  );
}

function Report({ report }: { report: DryRunReport }) {
  const { t } = useTranslation();
  return (
    <section className="dry-run-report" aria-labelledby="dry-run-result">
      <h3 id="dry-run-result">{t("builder.dryRun.result")}</h3>
      <p role="status" className={report.fires ? "verdict fires" : "verdict"}>
        {report.fires
          ? t("builder.dryRun.fires")
          : report.matched
            ? t("builder.dryRun.conditionsFail")
            : t("builder.dryRun.noMatch", { reason: report.reason ?? "" })}
      </p>
      <h4>{t("builder.dryRun.conditions")}</h4>
      {report.conditions.length === 0 ? (
        <p className="hint">{t("builder.dryRun.noConditions")}</p>
      ) : (
        <table className="compact">
          <caption className="visually-hidden">{t("builder.dryRun.conditions")}</caption>
          <thead>
            <tr>
              <th scope="col">{t("builder.dryRun.condition")}</th>
              <th scope="col">{t("builder.dryRun.outcome")}</th>
            </tr>
          </thead>
          <tbody>
            {report.conditions.map((condition, index) => (
              <tr key={index}>
                <td>
                  <code>{condition.cel}</code>
                </td>
                <td className={condition.result === true ? "ok" : "bad"}>
                  {condition.result === true
                    ? t("builder.dryRun.true")
                    : condition.result === false
                      ? t("builder.dryRun.false")
                      : t("builder.dryRun.error", { detail: condition.error ?? "" })}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <h4>{t("builder.dryRun.plan")}</h4>
      {report.plan.length === 0 ? (
        <p className="hint">{t("builder.dryRun.noPlan")}</p>
      ) : (
        <ol className="plan">
          {report.plan.map((step) => (
            <li key={step.pointer}>
              <p>
                <strong>{step.id}</strong> {step.action ? <code>{step.action}</code> : null} —{" "}
                {t(`builder.dryRun.status.${step.status}`)}
                {step.status === "branch" && step.branch ? ` (${t(`builder.flow.${step.branch}`)})` : ""}
              </p>
              {step.error && <p className="field-error">{step.error}</p>}
              {step.params && Object.keys(step.params).length > 0 && (
                <dl className="params">
                  {Object.entries(step.params).map(([name, value]) => (
                    <div key={name}>
                      <dt>{name}</dt>
                      <dd>{typeof value === "string" ? value : JSON.stringify(value)}</dd>
                    </div>
                  ))}
                </dl>
              )}
            </li>
          ))}
        </ol>
      )}
      {Object.keys(report.lookups).length > 0 && (
        <details>
          <summary>{t("builder.dryRun.lookups")}</summary>
          <pre>{JSON.stringify(report.lookups, null, 2)}</pre>
        </details>
      )}
    </section>
  );
}
