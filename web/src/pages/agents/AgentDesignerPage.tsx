/**
 * /agents/new and /agents/:name — the agent designer: the steps as a graph, the selected step
 * as a form, the YAML in CodeMirror, all three kept in sync (the YAML text is the source; the
 * graph and form edit it). The definition is checked live with POST /agents/validate: each
 * problem is marked in the YAML and shown at its step. Saving sends the version edited
 * (If-Match); a refused save keeps the text and places its errors the same way.
 */
import { useQueryClient } from "@tanstack/react-query";
import { useEffect, useMemo, useRef, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useNavigate, useParams } from "react-router";
import {
  agentKeys,
  useAgent,
  useAgentCalls,
  useAgents,
  useAgentVersions,
  useTools,
  type Validation,
} from "../../api/agents";
import { ApiProblem } from "../../api/problem";
import { ProblemMessage } from "../../components/ProblemMessage";
import { useDocumentTitle } from "../../components/useDocumentTitle";
import { useMe } from "../../session/SessionContext";
import {
  addStep,
  BLANK_AGENT,
  parseDefinition,
  removeStep,
  STEP_KINDS,
  toggleNeed,
  toYaml,
  isStepKind,
  type StepDefinition,
  type StepKind,
} from "../../agents/definition";
import { placeProblems, type PlacedProblem, type Problem } from "../../agents/pointers";
import "../../styles/agents.css";
import { AUTHORS } from "./AgentsPage";
import { DesignerGraph } from "./DesignerGraph";
import { useFormat } from "./parts";
import { RunPanel } from "./RunPanel";
import { StepForm } from "./StepForm";
import { YamlEditor, type Marker } from "./YamlEditor";

const VALIDATE_DELAY_MS = 400;

type Check =
  | { state: "idle" }
  | { state: "checking" }
  | { state: "done"; result: Validation }
  | { state: "error"; error: unknown };

function useLiveValidation(text: string, parsedOk: boolean): Check {
  const calls = useAgentCalls();
  const [check, setCheck] = useState<Check>({ state: "idle" });
  useEffect(() => {
    if (!parsedOk) return;
    const controller = new AbortController();
    const timer = setTimeout(() => {
      setCheck({ state: "checking" });
      calls
        .validate(text, controller.signal)
        .then((result) => {
          if (!controller.signal.aborted) setCheck({ state: "done", result });
        })
        .catch((error: unknown) => {
          if (!controller.signal.aborted) setCheck({ state: "error", error });
        });
    }, VALIDATE_DELAY_MS);
    return () => {
      clearTimeout(timer);
      controller.abort();
    };
    // `calls` is rebuilt each render around the same client.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [text, parsedOk]);
  return check;
}

function Versions({ name }: { name: string }) {
  const { t } = useTranslation();
  const versions = useAgentVersions(name);
  const format = useFormat();
  return (
    <section aria-labelledby="versions-heading">
      <h2 id="versions-heading">{t("agents.designer.versions")}</h2>
      {versions.error ? <ProblemMessage error={versions.error} /> : null}
      {versions.data && (
        <div className="table-wrap">
          <table className="records">
            <caption>{t("agents.designer.versionsCaption", { name })}</caption>
            <thead>
              <tr>
                <th scope="col">{t("agents.list.version")}</th>
                <th scope="col">{t("agents.designer.savedAt")}</th>
                <th scope="col">{t("agents.designer.savedBy")}</th>
                <th scope="col">{t("agents.designer.digest")}</th>
              </tr>
            </thead>
            <tbody>
              {[...versions.data].reverse().map((version) => (
                <tr key={version.version}>
                  <td>{version.version}</td>
                  <td>{format.dateTime(version.created_at)}</td>
                  <td>{version.created_by ?? ""}</td>
                  <td>
                    <code>{version.digest.slice(0, 12)}</code>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

export default function AgentDesignerPage() {
  const { t } = useTranslation();
  const { name } = useParams();
  const me = useMe();
  const author = me.roles.some((role) => AUTHORS.includes(role));
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const calls = useAgentCalls();
  const saved = useAgent(name);
  const tools = useTools();
  const agents = useAgents();

  const [text, setText] = useState<string>(name === undefined ? BLANK_AGENT : "");
  const [base, setBase] = useState<{ name: string; version: number } | null>(null);
  const loaded = useRef<string | null>(null);
  const [selected, setSelected] = useState<string | null>(null);
  const [newKind, setNewKind] = useState<StepKind>("tool");
  const [saveError, setSaveError] = useState<unknown>(null);
  const [saving, setSaving] = useState(false);
  const [savedVersion, setSavedVersion] = useState<number | null>(null);

  // The saved definition becomes the text once per agent (later refetches keep the edits).
  useEffect(() => {
    if (name === undefined) {
      if (loaded.current !== "") {
        loaded.current = "";
        setText(BLANK_AGENT);
        setBase(null);
      }
      return;
    }
    if (saved.data && loaded.current !== name) {
      loaded.current = name;
      setText(toYaml(saved.data.agent.definition ?? {}));
      setBase({ name, version: saved.data.version });
    }
  }, [name, saved.data]);

  useDocumentTitle(name ? t("agents.designer.title", { name }) : t("agents.designer.newTitle"));

  const parsed = useMemo(() => parseDefinition(text), [text]);
  // While the YAML does not parse, the graph and forms keep showing the last steps that did.
  const [lastSteps, setLastSteps] = useState<StepDefinition[]>([]);
  if (parsed.ok && lastSteps !== parsed.definition.steps) setLastSteps(parsed.definition.steps);
  const steps = parsed.ok ? parsed.definition.steps : lastSteps;
  const check = useLiveValidation(text, parsed.ok && text !== "");

  const serverProblems: Problem[] = useMemo(() => {
    if (saveError instanceof ApiProblem && saveError.errors.length > 0) return saveError.errors;
    if (check.state === "done" && !check.result.valid) return check.result.errors ?? [];
    return [];
  }, [check, saveError]);
  const placed: PlacedProblem[] = useMemo(
    () => (parsed.ok ? placeProblems(text, serverProblems, steps) : []),
    [parsed.ok, text, serverProblems, steps],
  );
  const markers: Marker[] = useMemo(() => {
    if (!parsed.ok) {
      return [{ from: parsed.offset, to: parsed.offset + 1, message: parsed.message }];
    }
    return placed.map((p) => ({ from: p.from, to: p.to, message: `${p.path}: ${p.message}` }));
  }, [parsed, placed]);
  const perStep = useMemo(() => {
    const counts = new Map<string, number>();
    for (const p of placed) if (p.step) counts.set(p.step, (counts.get(p.step) ?? 0) + 1);
    return counts;
  }, [placed]);
  const general = placed.filter((p) => p.step === null);

  const selectedStep = steps.find((s) => s.id === selected) ?? null;
  const toolNames = (tools.data ?? []).map((tool) => tool.name);
  const editable = author && parsed.ok;
  const edit = (update: (current: string) => string) => {
    setSaveError(null);
    setText((current) => update(current));
  };

  const save = async () => {
    setSaving(true);
    setSaveError(null);
    try {
      const result = await calls.save(text, base);
      setSavedVersion(result.version);
      setBase({ name: result.name, version: result.version });
      loaded.current = result.name;
      await queryClient.invalidateQueries({ queryKey: agentKeys.all });
      if (name !== result.name) void navigate(`/agents/${result.name}`, { replace: true });
    } catch (error) {
      setSaveError(error);
    } finally {
      setSaving(false);
    }
  };

  if (name !== undefined && saved.error) {
    return (
      <div className="agents-page">
        <h1>{t("agents.designer.title", { name })}</h1>
        <ProblemMessage error={saved.error} />
      </div>
    );
  }
  if (name !== undefined && !saved.data) {
    return (
      <div className="agents-page">
        <h1>{t("agents.designer.title", { name })}</h1>
        <p role="status">{t("common.loading")}</p>
      </div>
    );
  }

  const statusText = !parsed.ok
    ? t("agents.designer.syntax", { line: parsed.line, column: parsed.column, message: parsed.message })
    : check.state === "checking" || check.state === "idle"
      ? t("agents.designer.checking")
      : check.state === "error"
        ? t("agents.designer.checkFailed")
        : check.result.valid
          ? t("agents.designer.valid", { count: check.result.order?.length ?? 0 })
          : t("agents.designer.invalid", { count: check.result.errors?.length ?? 0 });
  const statusBad = !parsed.ok || (check.state === "done" && !check.result.valid) || check.state === "error";

  return (
    <div className="agents-page agents-designer">
      <h1>
        {name
          ? t("agents.designer.heading", { title: saved.data?.agent.title ?? name })
          : t("agents.designer.newTitle")}
      </h1>
      <p className="agents-meta">
        {name && (
          <>
            <code>{name}</code> · {t("agents.designer.version", { version: base?.version ?? "" })} ·{" "}
            <Link to={`/agents/${name}/evaluations`}>{t("agents.list.evaluations")}</Link> ·{" "}
            <Link to={`/agents?runs=${name}#recent-runs`}>{t("agents.list.runs")}</Link>
          </>
        )}
        {!author && <span> {t("agents.designer.readOnly")}</span>}
      </p>
      <div className="agents-toolbar">
        <p
          id="definition-status"
          role="status"
          className={statusBad ? "agents-check agents-check-bad" : "agents-check agents-check-ok"}
        >
          {statusText}
        </p>
        {author && (
          <button
            type="button"
            className="button button-primary"
            disabled={saving || !parsed.ok}
            onClick={() => void save()}
          >
            {saving ? t("agents.designer.saving") : t("agents.designer.save")}
          </button>
        )}
        {savedVersion !== null && saveError === null && (
          <p role="status" className="notice">
            {t("agents.designer.saved", { version: savedVersion })}
          </p>
        )}
      </div>
      {saveError !== null && (
        <div>
          {saveError instanceof ApiProblem && (saveError.status === 409 || saveError.status === 412) && (
            <p className="notice">{t("agents.designer.conflict")}</p>
          )}
          <ProblemMessage error={saveError} />
        </div>
      )}
      {check.state === "error" && <ProblemMessage error={check.error} />}
      {general.length > 0 && (
        <div className="problem" role="alert">
          <p className="problem-title">{t("agents.designer.generalProblems")}</p>
          <ul>
            {general.map((p, index) => (
              <li key={`${p.path}-${index}`}>
                <code>{p.path || "/"}</code> {p.message}
              </li>
            ))}
          </ul>
        </div>
      )}

      <div className="agents-designer-grid">
        <section aria-labelledby="graph-heading" className="agents-designer-graph">
          <h2 id="graph-heading">{t("agents.designer.graph")}</h2>
          <DesignerGraph
            steps={steps}
            selected={selected}
            problems={perStep}
            onSelect={setSelected}
            onConnect={editable ? (source, target) => edit((current) => toggleNeed(current, target, source)) : null}
          />
        </section>
        <section aria-labelledby="steps-heading" className="agents-designer-steps">
          <h2 id="steps-heading">{t("agents.designer.steps")}</h2>
          <ul className="agents-step-list">
            {steps.map((step) => (
              <li key={step.id}>
                <button
                  type="button"
                  className={step.id === selected ? "button agents-step-chosen" : "button button-quiet"}
                  aria-pressed={step.id === selected}
                  onClick={() => setSelected(step.id)}
                >
                  {step.id} · {isStepKind(step.kind) ? t(`agents.kinds.${step.kind}`) : String(step.kind)}
                  {perStep.get(step.id)
                    ? ` · ${t("agents.graph.problems", { count: perStep.get(step.id) ?? 0 })}`
                    : ""}
                </button>
              </li>
            ))}
          </ul>
          {author && (
            <div className="agents-add-step">
              <div className="field-inline">
                <label htmlFor="new-step-kind">{t("agents.designer.newKind")}</label>
                <select
                  id="new-step-kind"
                  value={newKind}
                  onChange={(e) => {
                    if (isStepKind(e.target.value)) setNewKind(e.target.value);
                  }}
                >
                  {STEP_KINDS.map((kind) => (
                    <option key={kind} value={kind}>
                      {t(`agents.kinds.${kind}`)}
                    </option>
                  ))}
                </select>
              </div>
              <button
                type="button"
                className="button"
                disabled={!editable}
                onClick={() => {
                  const added = addStep(text, newKind, toolNames, selected ?? undefined);
                  edit(() => added.text);
                  setSelected(added.id);
                }}
              >
                {t("agents.designer.addStep")}
              </button>
            </div>
          )}
          {!parsed.ok && author && <p className="hint">{t("agents.designer.fixSyntax")}</p>}
          {selectedStep ? (
            <StepForm
              key={selectedStep.id}
              step={selectedStep}
              steps={steps}
              tools={tools.data ?? []}
              agents={(agents.data ?? []).filter((a) => a.name !== name)}
              problems={placed.filter((p) => p.step === selectedStep.id)}
              edit={edit}
              onRenamed={setSelected}
              onRemove={() => {
                edit((current) => removeStep(current, selectedStep.id));
                setSelected(null);
              }}
              disabled={!editable}
            />
          ) : (
            <p className="hint">{t("agents.designer.pickStep")}</p>
          )}
        </section>
      </div>

      <section aria-labelledby="yaml-heading">
        <h2 id="yaml-heading">{t("agents.designer.yaml")}</h2>
        <p className="hint" id="yaml-hint">
          {t("agents.designer.yamlHint")}
        </p>
        <YamlEditor
          value={text}
          onChange={(next) => {
            setSaveError(null);
            setText(next);
          }}
          markers={markers}
          label={t("agents.designer.yaml")}
          description={t("agents.designer.yamlHint")}
          readOnly={!author}
        />
      </section>

      {name && saved.data && <RunPanel agent={saved.data.agent} />}
      {name && <Versions name={name} />}
    </div>
  );
}
