/** "Run on a record": the saved agent's inputs, each input its reads take a record id from
 * (`reads: [{object: account, id: inputs.account}]`) picked by searching that object's records
 * by name; then the run starts and its trace opens. */
import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { useNavigate } from "react-router";
import { useAgentCalls, type Agent } from "../../api/agents";
import { ApiProblem } from "../../api/problem";
import { useObjects } from "../../api/queries";
import { ProblemMessage } from "../../components/ProblemMessage";
import { useApi, useMe } from "../../session/SessionContext";
import { permissionFor, titleFilter } from "../../records/fields";
import type { AgentDefinition } from "../../agents/definition";
import { useDebounced } from "../records/useDebounced";

interface InputSpec {
  name: string;
  type: string;
  required: boolean;
  /** The object whose record id this input takes, from the agent's reads. */
  object: string | null;
}

export function runInputs(definition: AgentDefinition | null | undefined): InputSpec[] {
  const inputs = definition?.inputs ?? {};
  const reads = Array.isArray(definition?.reads) ? definition.reads : [];
  return Object.entries(inputs).map(([name, spec]) => ({
    name,
    type: spec.type ?? "string",
    required: spec.required === true,
    object: reads.find((read) => typeof read.id === "string" && read.id.trim() === `inputs.${name}`)?.object ?? null,
  }));
}

function RecordPicker({
  object,
  input,
  value,
  onChange,
  error,
}: {
  object: string;
  input: string;
  value: string;
  onChange: (id: string) => void;
  error: string | null;
}) {
  const { t, i18n } = useTranslation();
  const api = useApi();
  const me = useMe();
  const objects = useObjects();
  const definition = objects.data?.find((o) => o.name === object) ?? null;
  const filter = definition ? titleFilter(definition, permissionFor(me, object)) : null;
  const [query, setQuery] = useState("");
  const settled = useDebounced(query.trim(), 300);
  const label = definition
    ? i18n.language === "zh-CN" && definition.label_zh
      ? definition.label_zh
      : definition.label
    : object;
  const found = useQuery({
    queryKey: ["agents", "pick", object, settled],
    enabled: settled !== "" && filter !== null,
    queryFn: () =>
      api.records(object, {
        limit: 8,
        filters: filter ? [{ field: filter.field.name, operator: filter.operator ?? undefined, value: settled }] : [],
      }),
  });
  const searchId = `run-${input}-search`;
  const errorId = `run-${input}-error`;
  const titleOf = (record: Record<string, unknown>) => {
    const title = filter ? record[filter.field.name] : null;
    return typeof title === "string" && title ? title : String(record.id);
  };
  return (
    <fieldset className="field agents-picker">
      <legend>{t("agents.run.inputRecord", { input, object: label })}</legend>
      <div className="field">
        <label htmlFor={searchId}>{t("agents.run.search", { object: label })}</label>
        <input
          id={searchId}
          type="search"
          value={query}
          onChange={(e) => setQuery(e.target.value)}
          aria-invalid={error ? true : undefined}
          aria-describedby={error ? errorId : undefined}
        />
      </div>
      {objects.isSuccess && filter === null && <p className="hint">{t("agents.run.noSearch")}</p>}
      {found.error ? <ProblemMessage error={found.error} /> : null}
      {found.data && found.data.data.length === 0 && <p role="status">{t("agents.run.noMatch")}</p>}
      {found.data && found.data.data.length > 0 && (
        <fieldset className="field">
          <legend>{t("agents.run.matches")}</legend>
          {found.data.data.map((record) => (
            <label key={record.id} className="check">
              <input
                type="radio"
                name={`run-${input}`}
                value={record.id}
                checked={value === record.id}
                onChange={() => onChange(record.id)}
              />{" "}
              {titleOf(record as Record<string, unknown>)}
            </label>
          ))}
        </fieldset>
      )}
      {value && <p className="hint">{t("agents.run.chosen", { id: value })}</p>}
      {error && (
        <p id={errorId} className="field-error">
          {error}
        </p>
      )}
    </fieldset>
  );
}

function typed(spec: InputSpec, text: string): unknown {
  if (spec.type === "number" || spec.type === "integer") return text === "" ? undefined : Number(text);
  if (spec.type === "boolean") return text === "true";
  if (spec.type === "object" || spec.type === "array") {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return text;
    }
  }
  return text === "" ? undefined : text;
}

export function RunPanel({ agent }: { agent: Agent }) {
  const { t } = useTranslation();
  const calls = useAgentCalls();
  const navigate = useNavigate();
  const definition = agent.definition as AgentDefinition | null;
  const inputs = runInputs(definition);
  const [values, setValues] = useState<Record<string, string>>({});
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const fieldErrors = new Map<string, string>();
  if (error instanceof ApiProblem) {
    for (const e of error.errors) {
      const match = /^\/inputs\/([^/]+)/.exec(e.path);
      if (match?.[1]) fieldErrors.set(match[1], e.message);
    }
  }

  const run = async () => {
    setBusy(true);
    setError(null);
    try {
      const body: Record<string, unknown> = {};
      for (const spec of inputs) {
        const value = typed(spec, values[spec.name] ?? "");
        if (value !== undefined) body[spec.name] = value;
      }
      const outcome = await calls.start(agent.name, body);
      void navigate(`/agent-runs/${outcome.id}`);
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section aria-labelledby="run-heading" className="agents-run">
      <h2 id="run-heading">{t("agents.run.heading")}</h2>
      <p className="hint">{t("agents.run.hint", { version: agent.version })}</p>
      {!agent.enabled && <p className="notice">{t("agents.run.disabled")}</p>}
      <form
        onSubmit={(event) => {
          event.preventDefault();
          void run();
        }}
      >
        {inputs.map((spec) =>
          spec.object ? (
            <RecordPicker
              key={spec.name}
              object={spec.object}
              input={spec.name}
              value={values[spec.name] ?? ""}
              onChange={(id) => setValues((current) => ({ ...current, [spec.name]: id }))}
              error={fieldErrors.get(spec.name) ?? null}
            />
          ) : (
            <div className="field" key={spec.name}>
              <label htmlFor={`run-${spec.name}`}>
                {spec.required ? t("agents.run.inputRequired", { input: spec.name }) : spec.name}
              </label>
              <input
                id={`run-${spec.name}`}
                value={values[spec.name] ?? ""}
                onChange={(e) => setValues((current) => ({ ...current, [spec.name]: e.target.value }))}
              />
              {fieldErrors.get(spec.name) && <p className="field-error">{fieldErrors.get(spec.name)}</p>}
            </div>
          ),
        )}
        {error !== null && <ProblemMessage error={error} />}
        <button type="submit" className="button button-primary" disabled={busy || !agent.enabled}>
          {busy ? t("agents.run.running") : t("agents.run.start")}
        </button>
      </form>
    </section>
  );
}
