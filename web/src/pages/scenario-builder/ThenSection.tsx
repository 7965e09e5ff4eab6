/**
 * THEN: the action chain as a flow (FlowView) and, beside it, the same steps as an ordered,
 * keyboard-usable list — add (from the action catalog), move up/down, remove, edit each step's
 * parameters (a form made from the action's parameter specs), branches (if/else), retries and
 * what happens when a step fails (stop, continue, or recovery steps).
 */
import { useState } from "react";
import { useTranslation } from "react-i18next";
import type { ActionSpec } from "../../api/scenarios";
import {
  insertStep,
  isBranch,
  moveStep,
  removeStep,
  uniqueStepId,
  updateStep,
} from "../../scenario-builder/chain";
import { asArray, asText, isObject, without, type Definition, type StepDef } from "../../scenario-builder/definition";
import type { DefinitionErrors } from "../../scenario-builder/errors";
import type { FieldSuggestion } from "../../scenario-builder/fields";
import { ConditionEditor } from "./ConditionEditor";
import { ErrorList } from "./ErrorList";
import { ParamForm } from "./ParamForm";
import { actionLabel } from "./actionLabel";
import { LabeledSelect } from "./LabeledSelect";

export interface ChainProps {
  definition: Definition;
  onChange: (definition: Definition) => void;
  errors: DefinitionErrors;
  actions: ActionSpec[];
  fields: FieldSuggestion[];
  selected: string | null;
  onSelect: (pointer: string | null) => void;
}

export function ThenSection(props: ChainProps) {
  const { t } = useTranslation();
  return (
    <div className="then-steps">
      <h3>{t("builder.then.steps")}</h3>
      <StepList {...props} pointer="/then" where={null} />
      <ErrorList errors={props.errors.at("/then")} />
    </div>
  );
}

function StepList(props: ChainProps & { pointer: string; where: string | null }) {
  const { t } = useTranslation();
  const steps = asArray<StepDef>(getList(props.definition, props.pointer));
  return (
    <>
      {steps.length === 0 && <p className="hint">{t("builder.then.empty")}</p>}
      <ol className="step-list">
        {steps.map((step, index) => (
          <StepCard
            key={`${props.pointer}/${index}`}
            {...props}
            step={isObject(step) ? step : { id: "" }}
            pointer={`${props.pointer}/${index}`}
            position={index}
            count={steps.length}
          />
        ))}
      </ol>
      <AddStep {...props} listPointer={props.pointer} index={steps.length} where={props.where} />
    </>
  );
}

function getList(definition: Definition, pointer: string): unknown {
  let current: unknown = definition;
  for (const token of pointer.slice(1).split("/")) {
    if (Array.isArray(current)) current = (current as unknown[])[Number(token)];
    else if (isObject(current)) current = current[token];
    else return [];
  }
  return current;
}

function AddStep({
  definition,
  onChange,
  actions,
  onSelect,
  listPointer,
  index,
  where,
}: ChainProps & { listPointer: string; index: number; where: string | null }) {
  const { t } = useTranslation();
  const [action, setAction] = useState("");
  const selectLabel = where ? t("builder.then.newActionIn", { where }) : t("builder.then.newAction");
  const add = (step: StepDef) => {
    onChange(insertStep(definition, listPointer, index, step));
    onSelect(`${listPointer}/${index}`);
  };
  return (
    <div className="add-step">
      <LabeledSelect label={selectLabel} value={action} onChange={(e) => setAction(e.target.value)}>
          <option value="">{t("builder.then.chooseAction")}</option>
          {actions
            .filter((a) => a.available)
            .map((a) => (
              <option key={a.name} value={a.name}>
                {actionLabel(t, a.name)}
              </option>
            ))}
        </LabeledSelect>
      <button
        type="button"
        disabled={action === ""}
        aria-label={where ? t("builder.then.addIn", { where }) : undefined}
        onClick={() => {
          add({ id: uniqueStepId(definition, action), action, with: {} });
          setAction("");
        }}
      >
        {t("builder.then.add")}
      </button>
      <button
        type="button"
        aria-label={where ? t("builder.then.addBranchIn", { where }) : undefined}
        onClick={() => add({ id: uniqueStepId(definition, "branch"), if: "", then: [], else: [] })}
      >
        {t("builder.then.addBranch")}
      </button>
    </div>
  );
}

function StepCard(props: ChainProps & { step: StepDef; pointer: string; position: number; count: number }) {
  const { t } = useTranslation();
  const { definition, onChange, errors, step, pointer, position, count, selected, onSelect, actions, fields } = props;
  const open = selected === pointer;
  const branch = isBranch(step);
  const name = asText(step.id) || t("builder.then.unnamed");
  const own = errors.ofStep(pointer);
  const spec = actions.find((a) => a.name === step.action);
  const change = (next: (s: StepDef) => StepDef) => onChange(updateStep(definition, pointer, next));
  const panelId = `step-${pointer.replace(/\//g, "-")}`;

  return (
    <li className={`step-card${open ? " open" : ""}${own.length > 0 ? " has-errors" : ""}`} data-pointer={pointer}>
      <div className="step-head">
        <span className="step-number">{position + 1}.</span>
        <span className="step-name">{name}</span>
        <span className="step-kind">
          {branch ? t("builder.then.branch") : step.action ? actionLabel(t, step.action) : t("builder.then.noAction")}
        </span>
        {own.length > 0 && (
          <span className="step-problems">{t("builder.then.problems", { total: own.length })}</span>
        )}
        <span className="step-buttons">
          <button
            type="button"
            aria-expanded={open}
            aria-controls={panelId}
            onClick={() => onSelect(open ? null : pointer)}
          >
            {open ? t("builder.then.close", { name }) : t("builder.then.edit", { name })}
          </button>
          <button
            type="button"
            disabled={position === 0}
            onClick={() => {
              onChange(moveStep(definition, pointer, -1));
              onSelect(null);
            }}
          >
            {t("builder.then.up", { name })}
          </button>
          <button
            type="button"
            disabled={position === count - 1}
            onClick={() => {
              onChange(moveStep(definition, pointer, 1));
              onSelect(null);
            }}
          >
            {t("builder.then.down", { name })}
          </button>
          <button
            type="button"
            onClick={() => {
              onChange(removeStep(definition, pointer));
              onSelect(null);
            }}
          >
            {t("builder.then.remove", { name })}
          </button>
        </span>
      </div>
      {!open && <ErrorList errors={own} />}
      {open && (
        <div className="step-body" id={panelId} role="group" aria-label={t("builder.then.settings", { name })}>
          <label>
            <span>{t("builder.then.id")}</span>
            <input value={asText(step.id)} onChange={(e) => change((s) => ({ ...s, id: e.target.value }))} />
          </label>
          <ErrorList errors={errors.at(`${pointer}/id`)} />
          {branch ? (
            <ConditionEditor
              cel={asText(step.if)}
              onChange={(cel) => change((s) => ({ ...s, if: cel }))}
              pointer={`${pointer}/if`}
              errors={errors}
              fields={fields}
              legend={t("builder.then.if", { name })}
              idPrefix={`${panelId}-if`}
            />
          ) : (
            <>
              <LabeledSelect label={t("builder.then.action")}
                  value={asText(step.action)}
                  onChange={(e) => change((s) => ({ ...s, action: e.target.value, with: {} }))}
                >
                  {!spec && <option value={asText(step.action)}>{asText(step.action) || t("builder.then.chooseAction")}</option>}
                  {actions.map((a) => (
                    <option key={a.name} value={a.name} disabled={!a.available}>
                      {actionLabel(t, a.name)}
                    </option>
                  ))}
                </LabeledSelect>
              <ErrorList errors={errors.at(`${pointer}/action`)} />
              {spec && <p className="hint">{spec.description}</p>}
              {spec && (
                <ParamForm
                  spec={spec}
                  values={isObject(step.with) ? step.with : {}}
                  onChange={(values) => change((s) => ({ ...s, with: values }))}
                  pointer={`${pointer}/with`}
                  errors={errors}
                  fields={[...fields, ...earlierSteps(definition, pointer)]}
                />
              )}
            </>
          )}
          <StepOptions {...props} change={change} panelId={panelId} />
          <ErrorList errors={errors.at(pointer)} />
        </div>
      )}
      {branch && (
        <div className="branch-lists">
          <div className="branch-then">
            <p className="branch-label">{t("builder.then.thenLabel", { name })}</p>
            <StepList {...props} pointer={`${pointer}/then`} where={t("builder.then.whereThen", { name })} />
          </div>
          <div className="branch-else">
            <p className="branch-label">{t("builder.then.elseLabel", { name })}</p>
            <StepList {...props} pointer={`${pointer}/else`} where={t("builder.then.whereElse", { name })} />
          </div>
        </div>
      )}
      {Array.isArray(step.on_failure) && (
        <div className="failure-list">
          <p className="branch-label">{t("builder.then.failureLabel", { name })}</p>
          <StepList {...props} pointer={`${pointer}/on_failure`} where={t("builder.then.whereFailure", { name })} />
        </div>
      )}
    </li>
  );
}

/** Step outputs a later step may use: `steps.<id>.id` for the steps before it in its list. */
function earlierSteps(definition: Definition, pointer: string): FieldSuggestion[] {
  const at = pointer.lastIndexOf("/");
  const list = asArray<StepDef>(getList(definition, pointer.slice(0, at)));
  const index = Number(pointer.slice(at + 1));
  return list
    .slice(0, index)
    .filter((s) => isObject(s) && typeof s.action === "string" && typeof s.id === "string" && s.id !== "")
    .map((s) => ({ path: `steps.${s.id}.id`, kind: "text" as const, choices: [], origin: "steps" }));
}

function StepOptions({
  step,
  pointer,
  errors,
  fields,
  change,
  panelId,
}: ChainProps & { step: StepDef; pointer: string; change: (next: (s: StepDef) => StepDef) => void; panelId: string }) {
  const { t } = useTranslation();
  const name = asText(step.id);
  const retry = isObject(step.retry) ? step.retry : null;
  const failure = Array.isArray(step.on_failure) ? "steps" : step.on_failure === "continue" ? "continue" : "stop";
  return (
    <fieldset className="step-options">
      <legend>{t("builder.then.options")}</legend>
      {typeof step.when === "string" ? (
        <>
          <ConditionEditor
            cel={step.when}
            onChange={(cel) => change((s) => ({ ...s, when: cel }))}
            pointer={`${pointer}/when`}
            errors={errors}
            fields={fields}
            legend={t("builder.then.guard", { name })}
            idPrefix={`${panelId}-guard`}
          />
          <button
            type="button"
            onClick={() =>
              change((s) => without(s, "when"))
            }
          >
            {t("builder.then.removeGuard")}
          </button>
        </>
      ) : (
        <button type="button" onClick={() => change((s) => ({ ...s, when: "" }))}>
          {t("builder.then.addGuard")}
        </button>
      )}
      {!isBranch(step) && (
        <>
          <label className="check">
            <input
              type="checkbox"
              checked={retry !== null}
              onChange={(e) =>
                change((s) => (e.target.checked ? { ...s, retry: { attempts: 3, backoff: "1s" } } : without(s, "retry")))
              }
            />
            {t("builder.then.retry")}
          </label>
          {retry && (
            <div className="retry">
              <label>
                <span>{t("builder.then.attempts")}</span>
                <input
                  type="number"
                  min={1}
                  max={20}
                  value={typeof retry.attempts === "number" ? retry.attempts : 3}
                  onChange={(e) => change((s) => ({ ...s, retry: { ...retry, attempts: Number(e.target.value) } }))}
                />
              </label>
              <label>
                <span>{t("builder.then.backoff")}</span>
                <input
                  value={asText(retry.backoff)}
                  placeholder="1s"
                  onChange={(e) => change((s) => ({ ...s, retry: { ...retry, backoff: e.target.value } }))}
                />
              </label>
            </div>
          )}
          <ErrorList errors={errors.under(`${pointer}/retry`)} />
          <label>
            <span>{t("builder.then.timeout")}</span>
            <input
              value={asText(step.timeout)}
              placeholder="30s"
              onChange={(e) =>
                change((s) => (e.target.value ? { ...s, timeout: e.target.value } : without(s, "timeout")))
              }
            />
          </label>
          <ErrorList errors={errors.at(`${pointer}/timeout`)} />
          <LabeledSelect label={t("builder.then.onFailure")}
              value={failure}
              onChange={(e) =>
                change((s) => ({
                  ...s,
                  on_failure:
                    e.target.value === "steps"
                      ? Array.isArray(s.on_failure)
                        ? s.on_failure
                        : []
                      : (e.target.value as "stop" | "continue"),
                }))
              }
            >
              <option value="stop">{t("builder.then.failStop")}</option>
              <option value="continue">{t("builder.then.failContinue")}</option>
              <option value="steps">{t("builder.then.failSteps")}</option>
            </LabeledSelect>
        </>
      )}
    </fieldset>
  );
}
