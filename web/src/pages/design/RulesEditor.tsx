/** An object's validation rules: name, CEL expression, message and the field it is shown at.
 * Saved together (PATCH validation_rules); a refused rule shows its error at the rule. */
import { useId, useState } from "react";
import { useTranslation } from "react-i18next";
import { ApiProblem } from "../../api/problem";
import type { ObjectDefinition } from "../../api/types";
import { ProblemMessage } from "../../components/ProblemMessage";
import { useLanguage } from "../../components/useLanguage";
import { ruleErrors, rulesOf, type RuleDraft, type RuleProblem } from "../../design/fields";
import { fieldLabel } from "../../records/fields";
import { CelEditor } from "./CelEditor";

const NONE: RuleProblem[] = [];

export function RulesEditor({
  object,
  onSave,
}: {
  object: ObjectDefinition;
  onSave: (rules: RuleDraft[]) => Promise<void>;
}) {
  const { t } = useTranslation();
  const language = useLanguage();
  const id = useId();
  const [rules, setRules] = useState<RuleDraft[]>(() => rulesOf(object));
  const [problems, setProblems] = useState<Record<number, Record<string, RuleProblem[]>>>({});
  const [failure, setFailure] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [saved, setSaved] = useState(false);

  const change = (index: number, changes: Partial<RuleDraft>) => {
    setRules((previous) => previous.map((r, i) => (i === index ? { ...r, ...changes } : r)));
    setSaved(false);
  };

  async function save() {
    if (busy) return;
    setBusy(true);
    setProblems({});
    setFailure(null);
    setSaved(false);
    try {
      await onSave(rules);
      setSaved(true);
    } catch (error) {
      const placed = error instanceof ApiProblem ? ruleErrors(error.errors) : {};
      setProblems(placed);
      if (Object.keys(placed).length === 0) setFailure(error);
    } finally {
      setBusy(false);
    }
  }

  return (
    <div>
      <p className="hint">{t("design.designer.rulesHint")}</p>
      {rules.length === 0 && <p>{t("design.designer.noRules")}</p>}
      {rules.map((rule, index) => {
        const base = `${id}-${index}`;
        const at = problems[index] ?? {};
        const expressionProblems = at.expression ?? NONE;
        const errorText = (part: string) =>
          at[part] ? (
            <p className="field-error" id={`${base}-${part}-error`}>
              {at[part].map((p) => p.message).join(" ")}
            </p>
          ) : null;
        return (
          <fieldset className="rule-box" key={index}>
            <legend>{t("design.designer.rule", { number: index + 1 })}</legend>
            <div className="field">
              <label htmlFor={`${base}-name`}>{t("design.designer.ruleName")}</label>
              <input
                id={`${base}-name`}
                value={rule.name}
                aria-invalid={at.name ? true : undefined}
                aria-describedby={at.name ? `${base}-name-error` : undefined}
                onChange={(event) => {
                  change(index, { name: event.target.value });
                }}
              />
              {errorText("name")}
            </div>
            <div className="field">
              <span className="field-label" aria-hidden="true">
                {t("design.designer.expression")}
              </span>
              <CelEditor
                value={rule.expression}
                onChange={(expression) => {
                  change(index, { expression });
                }}
                label={t("design.designer.expression")}
                error={at.expression ? at.expression.map((p) => p.message).join(" ") : null}
                problems={expressionProblems}
              />
              {errorText("expression")}
            </div>
            <div className="field">
              <label htmlFor={`${base}-message`}>{t("design.designer.ruleMessage")}</label>
              <input
                id={`${base}-message`}
                value={rule.message}
                aria-invalid={at.message ? true : undefined}
                aria-describedby={at.message ? `${base}-message-error` : undefined}
                onChange={(event) => {
                  change(index, { message: event.target.value });
                }}
              />
              {errorText("message")}
            </div>
            <div className="field">
              <label htmlFor={`${base}-path`}>{t("design.designer.ruleField")}</label>
              <select
                id={`${base}-path`}
                value={rule.path}
                onChange={(event) => {
                  change(index, { path: event.target.value });
                }}
              >
                <option value="">{t("design.designer.wholeRecord")}</option>
                {object.fields.map((field) => (
                  <option key={field.name} value={`/${field.name}`}>
                    {fieldLabel(field, language)}
                  </option>
                ))}
              </select>
              {errorText("path")}
            </div>
            <button
              type="button"
              className="button button-quiet"
              onClick={() => {
                setRules((previous) => previous.filter((_, i) => i !== index));
                setProblems({});
              }}
            >
              {t("design.designer.removeRule", { number: index + 1 })}
            </button>
          </fieldset>
        );
      })}
      {failure !== null && <ProblemMessage error={failure} />}
      <div className="form-actions">
        <button
          type="button"
          className="button"
          onClick={() => {
            setRules((previous) => [...previous, { name: "", expression: "", message: "", path: "" }]);
          }}
        >
          {t("design.designer.addRule")}
        </button>
        <button type="button" className="button button-primary" aria-disabled={busy} onClick={() => void save()}>
          {t("design.designer.saveRules")}
        </button>
        {saved && (
          <span role="status" className="notice">
            {t("design.designer.saved", { version: object.version })}
          </span>
        )}
      </div>
    </div>
  );
}
