/** The selected step as a form: id, kind, title, guard, what it needs, where errors go, and
 * its kind's parameters (a tool picked from /agents/tools with one CEL input per argument, rule
 * rows, a prompt and its fallback, a task, a sub-agent). Every change is an edit of the YAML. */
import { useState } from "react";
import { useTranslation } from "react-i18next";
import type { Agent, Tool } from "../../api/agents";
import {
  grantTool,
  isStepKind,
  renameStep,
  setStepKind,
  setStepValue,
  STEP_KINDS,
  toggleNeed,
  type StepDefinition,
} from "../../agents/definition";
import { possibleNeeds } from "../../agents/graph";
import type { PlacedProblem } from "../../agents/pointers";

type Edit = (update: (text: string) => string) => void;

/** A parameter value as an author writes it: CEL text (`{cel: x}` → x, a literal → JSON). */
export function celText(value: unknown): string {
  if (value === undefined || value === null) return "";
  if (typeof value === "object" && !Array.isArray(value) && "cel" in value) {
    const cel = value.cel;
    return typeof cel === "string" ? cel : "";
  }
  return JSON.stringify(value);
}

function schemaProperties(schema: Record<string, unknown>): { name: string; required: boolean; title: string }[] {
  const properties = (schema.properties ?? {}) as Record<string, { title?: string }>;
  const required = Array.isArray(schema.required) ? (schema.required as string[]) : [];
  return Object.entries(properties).map(([name, spec]) => ({
    name,
    required: required.includes(name),
    title: spec.title ?? name,
  }));
}

function TextField({
  id,
  label,
  value,
  onChange,
  multiline,
  hint,
  disabled,
}: {
  id: string;
  label: string;
  value: string;
  onChange: (value: string) => void;
  multiline?: boolean;
  hint?: string;
  disabled: boolean;
}) {
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      {multiline ? (
        <textarea id={id} value={value} rows={3} onChange={(e) => onChange(e.target.value)} disabled={disabled} />
      ) : (
        <input id={id} value={value} onChange={(e) => onChange(e.target.value)} disabled={disabled} />
      )}
      {hint && <p className="hint">{hint}</p>}
    </div>
  );
}

/** JSON typed by a person, applied when it parses (on leaving the field). */
function JsonField({
  id,
  label,
  value,
  onApply,
  disabled,
}: {
  id: string;
  label: string;
  value: unknown;
  onApply: (value: unknown) => void;
  disabled: boolean;
}) {
  const { t } = useTranslation();
  const shown = value === undefined ? "" : JSON.stringify(value);
  const [draft, setDraft] = useState<string | null>(null);
  const [bad, setBad] = useState(false);
  const errorId = `${id}-error`;
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <input
        id={id}
        value={draft ?? shown}
        disabled={disabled}
        aria-invalid={bad || undefined}
        aria-describedby={bad ? errorId : undefined}
        onChange={(e) => setDraft(e.target.value)}
        onBlur={() => {
          if (draft === null) return;
          try {
            onApply(draft.trim() === "" ? undefined : JSON.parse(draft));
            setDraft(null);
            setBad(false);
          } catch {
            setBad(true);
          }
        }}
      />
      {bad && (
        <p id={errorId} className="field-error">
          {t("agents.step.badJson")}
        </p>
      )}
    </div>
  );
}

export function StepForm({
  step,
  steps,
  tools,
  agents,
  problems,
  edit,
  onRenamed,
  onRemove,
  disabled,
}: {
  step: StepDefinition;
  steps: readonly StepDefinition[];
  tools: readonly Tool[];
  agents: readonly Agent[];
  problems: readonly PlacedProblem[];
  edit: Edit;
  onRenamed: (id: string) => void;
  onRemove: () => void;
  disabled: boolean;
}) {
  const { t } = useTranslation();
  const [idDraft, setIdDraft] = useState<string | null>(null);
  const id = step.id;
  const prefix = `step-${id}`;
  const set = (path: (string | number)[], value: unknown) => edit((text) => setStepValue(text, id, path, value));
  const needs = Array.isArray(step.needs) ? step.needs : [];
  const candidates = [...new Set([...possibleNeeds(steps, id), ...needs])].filter((n) => n !== id);
  const tool = tools.find((candidate) => candidate.name === step.tool);
  const child = agents.find((candidate) => candidate.name === step.agent);
  const childInputs = Object.keys((child?.definition?.inputs as Record<string, unknown> | undefined) ?? {});
  const rows = Array.isArray(step.rules) ? step.rules : [];
  const task = step.task ?? {};

  return (
    <section className="agents-step-form" aria-labelledby={`${prefix}-heading`}>
      <h3 id={`${prefix}-heading`}>{t("agents.step.heading", { id })}</h3>
      {problems.length > 0 && (
        <div className="problem" role="alert">
          <p className="problem-title">{t("agents.step.problems", { count: problems.length })}</p>
          <ul>
            {problems.map((problem, index) => (
              <li key={`${problem.path}-${index}`}>
                <code>{problem.path}</code> {problem.message}
              </li>
            ))}
          </ul>
        </div>
      )}
      <div className="field">
        <label htmlFor={`${prefix}-id`}>{t("agents.step.id")}</label>
        <input
          id={`${prefix}-id`}
          value={idDraft ?? id}
          disabled={disabled}
          onChange={(e) => setIdDraft(e.target.value)}
          onBlur={() => {
            if (idDraft !== null && idDraft !== id && idDraft.trim() !== "") {
              const next = idDraft.trim();
              edit((text) => renameStep(text, id, next));
              onRenamed(next);
            }
            setIdDraft(null);
          }}
        />
      </div>
      <div className="field">
        <label htmlFor={`${prefix}-kind`}>{t("agents.step.kind")}</label>
        <select
          id={`${prefix}-kind`}
          value={step.kind}
          disabled={disabled}
          onChange={(e) => {
            const kind = e.target.value;
            if (isStepKind(kind)) edit((text) => setStepKind(text, id, kind, tools.map((x) => x.name)));
          }}
        >
          {STEP_KINDS.map((kind) => (
            <option key={kind} value={kind}>
              {t(`agents.kinds.${kind}`)}
            </option>
          ))}
        </select>
      </div>
      <TextField
        id={`${prefix}-title`}
        label={t("agents.step.title")}
        value={typeof step.title === "string" ? step.title : ""}
        onChange={(v) => set(["title"], v)}
        disabled={disabled}
      />
      <TextField
        id={`${prefix}-when`}
        label={t("agents.step.when")}
        hint={t("agents.step.whenHint")}
        value={typeof step.when === "string" ? step.when : ""}
        onChange={(v) => set(["when"], v)}
        disabled={disabled}
      />
      <fieldset className="field">
        <legend>{t("agents.step.needs")}</legend>
        {candidates.length === 0 && <p className="hint">{t("agents.step.noNeeds")}</p>}
        {candidates.map((candidate) => (
          <label key={candidate} className="check">
            <input
              type="checkbox"
              checked={needs.includes(candidate)}
              disabled={disabled}
              onChange={() => edit((text) => toggleNeed(text, id, candidate))}
            />{" "}
            {candidate}
          </label>
        ))}
      </fieldset>

      {step.kind === "tool" && (
        <fieldset className="field">
          <legend>{t("agents.step.toolParams")}</legend>
          <div className="field">
            <label htmlFor={`${prefix}-tool`}>{t("agents.step.tool")}</label>
            <select
              id={`${prefix}-tool`}
              value={step.tool ?? ""}
              disabled={disabled}
              onChange={(e) => {
                const name = e.target.value;
                edit((text) => grantTool(setStepValue(text, id, ["tool"], name), name));
              }}
            >
              <option value="">{t("agents.step.chooseTool")}</option>
              {tools.map((candidate) => (
                <option key={candidate.name} value={candidate.name}>
                  {candidate.name}
                </option>
              ))}
            </select>
            {tool && <p className="hint">{tool.description}</p>}
          </div>
          {tool &&
            schemaProperties(tool.input_schema).map((property) => (
              <TextField
                key={property.name}
                id={`${prefix}-with-${property.name}`}
                label={
                  property.required
                    ? t("agents.step.argumentRequired", { name: property.name })
                    : t("agents.step.argument", { name: property.name })
                }
                hint={t("agents.step.celHint")}
                value={celText(step.with?.[property.name])}
                onChange={(v) => set(["with", property.name], v === "" ? undefined : { cel: v })}
                disabled={disabled}
              />
            ))}
        </fieldset>
      )}

      {step.kind === "rule" && (
        <fieldset className="field">
          <legend>{t("agents.step.rules")}</legend>
          {rows.map((row, index) => (
            <div key={index} className="agents-rule-row">
              <TextField
                id={`${prefix}-rule-${index}-when`}
                label={t("agents.step.ruleWhen", { row: index + 1 })}
                value={typeof row.when === "string" ? row.when : ""}
                onChange={(v) => set(["rules", index, "when"], v)}
                disabled={disabled}
              />
              <JsonField
                id={`${prefix}-rule-${index}-then`}
                label={t("agents.step.ruleThen", { row: index + 1 })}
                value={row.then}
                onApply={(v) => set(["rules", index, "then"], v ?? {})}
                disabled={disabled}
              />
              <button
                type="button"
                className="button button-quiet"
                disabled={disabled}
                onClick={() =>
                  edit((text) => setStepValue(text, id, ["rules"], rows.filter((_, i) => i !== index)))
                }
              >
                {t("agents.step.removeRow", { row: index + 1 })}
              </button>
            </div>
          ))}
          <button
            type="button"
            className="button"
            disabled={disabled}
            onClick={() => set(["rules"], [...rows, { when: "true", then: { result: "ok" } }])}
          >
            {t("agents.step.addRow")}
          </button>
          <JsonField
            id={`${prefix}-default`}
            label={t("agents.step.default")}
            value={step.default}
            onApply={(v) => set(["default"], v)}
            disabled={disabled}
          />
        </fieldset>
      )}

      {step.kind === "llm" && (
        <fieldset className="field">
          <legend>{t("agents.step.llmParams")}</legend>
          <TextField
            id={`${prefix}-system`}
            label={t("agents.step.system")}
            value={step.system ?? ""}
            onChange={(v) => set(["system"], v)}
            multiline
            disabled={disabled}
          />
          <TextField
            id={`${prefix}-prompt`}
            label={t("agents.step.prompt")}
            value={step.prompt ?? ""}
            onChange={(v) => set(["prompt"], v)}
            multiline
            disabled={disabled}
          />
          <TextField
            id={`${prefix}-fallback`}
            label={t("agents.step.fallback")}
            hint={t("agents.step.fallbackHint")}
            value={step.fallback ?? ""}
            onChange={(v) => set(["fallback"], v)}
            multiline
            disabled={disabled}
          />
        </fieldset>
      )}

      {step.kind === "human" && (
        <fieldset className="field">
          <legend>{t("agents.step.taskParams")}</legend>
          <TextField
            id={`${prefix}-task-title`}
            label={t("agents.step.taskTitle")}
            value={task.title ?? ""}
            onChange={(v) => set(["task", "title"], v)}
            disabled={disabled}
          />
          <TextField
            id={`${prefix}-task-role`}
            label={t("agents.step.assigneeRole")}
            value={task.assignee?.role ?? ""}
            onChange={(v) => set(["task", "assignee", "role"], v)}
            disabled={disabled}
          />
          <TextField
            id={`${prefix}-task-user`}
            label={t("agents.step.assigneeUser")}
            value={task.assignee?.user ?? ""}
            onChange={(v) => set(["task", "assignee", "user"], v)}
            disabled={disabled}
          />
          <TextField
            id={`${prefix}-task-sla`}
            label={t("agents.step.sla")}
            hint={t("agents.step.slaHint")}
            value={task.sla ?? ""}
            onChange={(v) => set(["task", "sla"], v)}
            disabled={disabled}
          />
          <div className="field">
            <label htmlFor={`${prefix}-task-timeout`}>{t("agents.step.onTimeout")}</label>
            <select
              id={`${prefix}-task-timeout`}
              value={task.on_timeout ?? "escalate"}
              disabled={disabled}
              onChange={(e) => set(["task", "on_timeout"], e.target.value)}
            >
              <option value="escalate">{t("agents.step.timeout.escalate")}</option>
              <option value="approve">{t("agents.step.timeout.approve")}</option>
              <option value="reject">{t("agents.step.timeout.reject")}</option>
            </select>
          </div>
          <TextField
            id={`${prefix}-task-modifiable`}
            label={t("agents.step.modifiable")}
            hint={t("agents.step.modifiableHint")}
            value={(task.modifiable ?? []).join(", ")}
            onChange={(v) =>
              set(
                ["task", "modifiable"],
                v.trim() === "" ? undefined : v.split(",").map((s) => s.trim()).filter(Boolean),
              )
            }
            disabled={disabled}
          />
        </fieldset>
      )}

      {step.kind === "agent" && (
        <fieldset className="field">
          <legend>{t("agents.step.agentParams")}</legend>
          <div className="field">
            <label htmlFor={`${prefix}-agent`}>{t("agents.step.agent")}</label>
            <select
              id={`${prefix}-agent`}
              value={step.agent ?? ""}
              disabled={disabled}
              onChange={(e) => set(["agent"], e.target.value)}
            >
              <option value="">{t("agents.step.chooseAgent")}</option>
              {agents.map((candidate) => (
                <option key={candidate.name} value={candidate.name}>
                  {candidate.title} ({candidate.name})
                </option>
              ))}
            </select>
          </div>
          {childInputs.map((name) => (
            <TextField
              key={name}
              id={`${prefix}-with-${name}`}
              label={t("agents.step.argument", { name })}
              hint={t("agents.step.celHint")}
              value={celText(step.with?.[name])}
              onChange={(v) => set(["with", name], v === "" ? undefined : { cel: v })}
              disabled={disabled}
            />
          ))}
        </fieldset>
      )}

      <div className="field">
        <label htmlFor={`${prefix}-on-error`}>{t("agents.step.onError")}</label>
        <select
          id={`${prefix}-on-error`}
          value={step.on_error?.route ?? "fail"}
          disabled={disabled}
          onChange={(e) =>
            set(
              ["on_error"],
              e.target.value === "fail"
                ? undefined
                : e.target.value === "fallback"
                  ? { route: "fallback", value: {} }
                  : { route: "escalate", task: { title: `Decide ${id} by hand`, assignee: { role: "admin" } } },
            )
          }
        >
          <option value="fail">{t("agents.step.route.fail")}</option>
          <option value="fallback">{t("agents.step.route.fallback")}</option>
          <option value="escalate">{t("agents.step.route.escalate")}</option>
        </select>
      </div>
      <button type="button" className="button" disabled={disabled} onClick={onRemove}>
        {t("agents.step.remove", { id })}
      </button>
    </section>
  );
}
