/** Add or edit a field: its type's own settings (options with Chinese labels, relation
 * target, range, length, default …); the server's refusal is shown at the input concerned. */
import { useId, useState, type ReactNode, type SubmitEvent } from "react";
import { useTranslation } from "react-i18next";
import { ApiProblem } from "../../api/problem";
import type { FieldType } from "../../api/types";
import { ProblemMessage } from "../../components/ProblemMessage";
import { FIELD_TYPES, placeErrors, settingsOf, type FieldDraft, type OptionDraft } from "../../design/fields";

const INPUTS = [
  "name",
  "type",
  "label",
  "label_zh",
  "description",
  "required",
  "unique",
  "indexed",
  "defaultValue",
  "options",
  "target",
  "cardinality",
  "maxLength",
  "minimum",
  "maximum",
];

export function FieldForm({
  initial,
  editing,
  objects,
  onSubmit,
  onCancel,
}: {
  initial: FieldDraft;
  /** Editing an existing field: its name, type and target cannot change. */
  editing: boolean;
  objects: { name: string; label: string }[];
  onSubmit: (draft: FieldDraft) => Promise<void>;
  onCancel?: () => void;
}) {
  const { t } = useTranslation();
  const id = useId();
  const [draft, setDraft] = useState<FieldDraft>(initial);
  const [errors, setErrors] = useState<Record<string, string[]>>({});
  const [general, setGeneral] = useState<string[]>([]);
  const [failure, setFailure] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const settings = settingsOf(draft.type);

  const set = <K extends keyof FieldDraft>(key: K, value: FieldDraft[K]) => {
    setDraft((previous) => ({ ...previous, [key]: value }));
  };
  const setOption = (index: number, changes: Partial<OptionDraft>) => {
    setDraft((previous) => ({
      ...previous,
      options: previous.options.map((o, i) => (i === index ? { ...o, ...changes } : o)),
    }));
  };

  async function submit(event: SubmitEvent<HTMLFormElement>) {
    event.preventDefault();
    if (busy) return;
    setBusy(true);
    setErrors({});
    setGeneral([]);
    setFailure(null);
    try {
      await onSubmit(draft);
    } catch (error) {
      if (error instanceof ApiProblem && error.status === 422) {
        const placed = placeErrors(error.errors, INPUTS);
        setErrors(placed.byInput);
        setGeneral(placed.general.length || Object.keys(placed.byInput).length ? placed.general : [error.detail]);
        const first = INPUTS.find((input) => placed.byInput[input]);
        if (first) document.getElementById(`${id}-${first}`)?.focus();
      } else {
        setFailure(error);
      }
    } finally {
      setBusy(false);
    }
  }

  const described = (key: string, hint?: boolean) => {
    const ids = [];
    if (hint) ids.push(`${id}-${key}-hint`);
    if (errors[key]) ids.push(`${id}-${key}-error`);
    return ids.length ? ids.join(" ") : undefined;
  };
  const errorOf = (key: string): ReactNode =>
    errors[key] ? (
      <p className="field-error" id={`${id}-${key}-error`}>
        {errors[key].join(" ")}
      </p>
    ) : null;
  type TextKey = "name" | "label" | "label_zh" | "description" | "defaultValue" | "maxLength" | "minimum" | "maximum";
  const text = (key: TextKey, label: string, options: { disabled?: boolean; hint?: string; type?: string } = {}) => (
    <div className="field">
      <label htmlFor={`${id}-${key}`}>{label}</label>
      <input
        id={`${id}-${key}`}
        type={options.type ?? "text"}
        value={draft[key]}
        disabled={options.disabled}
        aria-invalid={errors[key] ? true : undefined}
        aria-describedby={described(key, options.hint !== undefined)}
        onChange={(event) => {
          set(key, event.target.value);
        }}
      />
      {options.hint !== undefined && (
        <p className="hint" id={`${id}-${key}-hint`}>
          {options.hint}
        </p>
      )}
      {errorOf(key)}
    </div>
  );
  const check = (key: "required" | "unique" | "indexed", label: string) => (
    <div className="field field-check">
      <input
        id={`${id}-${key}`}
        type="checkbox"
        checked={draft[key]}
        aria-invalid={errors[key] ? true : undefined}
        aria-describedby={described(key)}
        onChange={(event) => {
          set(key, event.target.checked);
        }}
      />
      <label htmlFor={`${id}-${key}`}>{label}</label>
      {errorOf(key)}
    </div>
  );

  return (
    <form className="field-form" noValidate onSubmit={(event) => void submit(event)}>
      {(general.length > 0 || failure !== null) && (
        <div className="form-summary">
          {general.length > 0 && (
            <div className="problem" role="alert">
              <p className="problem-title">{t("design.designer.notSaved")}</p>
              <ul>
                {general.map((message, index) => (
                  <li key={index}>{message}</li>
                ))}
              </ul>
            </div>
          )}
          {failure !== null && <ProblemMessage error={failure} />}
        </div>
      )}
      {text("name", t("design.designer.name"), { disabled: editing, hint: t("design.designer.nameHint") })}
      <div className="field">
        <label htmlFor={`${id}-type`}>{t("design.designer.type")}</label>
        <select
          id={`${id}-type`}
          value={draft.type}
          disabled={editing}
          aria-invalid={errors.type ? true : undefined}
          aria-describedby={described("type")}
          onChange={(event) => {
            set("type", event.target.value as FieldType);
          }}
        >
          {FIELD_TYPES.map((type) => (
            <option key={type} value={type}>
              {t(`design.designer.types.${type}`)}
            </option>
          ))}
        </select>
        {errorOf("type")}
      </div>
      {text("label", t("design.designer.label"))}
      {text("label_zh", t("design.designer.labelZh"))}
      {text("description", t("design.designer.description"))}
      {check("required", t("design.designer.requiredFlag"))}
      {settings.unique && check("unique", t("design.designer.uniqueFlag"))}
      {settings.indexed && check("indexed", t("design.designer.indexedFlag"))}
      {settings.options && (
        <fieldset className="field" aria-describedby={described("options")}>
          <legend>{t("design.designer.options")}</legend>
          {draft.options.map((option, index) => (
            <div className="option-row" key={index} role="group" aria-label={t("design.designer.optionN", { number: index + 1 })}>
              {(["value", "label", "label_zh"] as const).map((part) => (
                <div className="field field-inline" key={part}>
                  <label htmlFor={`${id}-option-${index}-${part}`}>
                    {t(
                      part === "value"
                        ? "design.designer.optionValue"
                        : part === "label"
                          ? "design.designer.optionLabel"
                          : "design.designer.optionLabelZh",
                    )}
                  </label>
                  <input
                    id={`${id}-option-${index}-${part}`}
                    value={option[part]}
                    onChange={(event) => {
                      setOption(index, { [part]: event.target.value });
                    }}
                  />
                </div>
              ))}
              <button
                type="button"
                className="button button-quiet"
                onClick={() => {
                  set(
                    "options",
                    draft.options.filter((_, i) => i !== index),
                  );
                }}
              >
                {t("design.designer.removeOption", { number: index + 1 })}
              </button>
            </div>
          ))}
          <button
            type="button"
            className="button"
            id={`${id}-options`}
            onClick={() => {
              set("options", [...draft.options, { value: "", label: "", label_zh: "" }]);
            }}
          >
            {t("design.designer.addOption")}
          </button>
          {errorOf("options")}
        </fieldset>
      )}
      {settings.target && (
        <>
          <div className="field">
            <label htmlFor={`${id}-target`}>{t("design.designer.target")}</label>
            <select
              id={`${id}-target`}
              value={draft.target}
              disabled={editing}
              aria-invalid={errors.target ? true : undefined}
              aria-describedby={described("target")}
              onChange={(event) => {
                set("target", event.target.value);
              }}
            >
              <option value="">—</option>
              {objects.map((object) => (
                <option key={object.name} value={object.name}>
                  {object.label}
                </option>
              ))}
            </select>
            {errorOf("target")}
          </div>
          <div className="field">
            <label htmlFor={`${id}-cardinality`}>{t("design.designer.cardinality")}</label>
            <select
              id={`${id}-cardinality`}
              value={draft.cardinality}
              disabled={editing}
              onChange={(event) => {
                set("cardinality", event.target.value === "many" ? "many" : "one");
              }}
            >
              <option value="one">{t("design.designer.cardinalities.one")}</option>
              <option value="many">{t("design.designer.cardinalities.many")}</option>
            </select>
          </div>
        </>
      )}
      {settings.maxLength && text("maxLength", t("design.designer.maxLength"), { type: "number" })}
      {settings.range && text("minimum", t("design.designer.minimum"), { type: "number" })}
      {settings.range && text("maximum", t("design.designer.maximum"), { type: "number" })}
      {settings.defaultValue &&
        text("defaultValue", t("design.designer.defaultValue"), {
          hint: draft.type === "multi_enum" ? t("design.designer.defaultHint") : undefined,
        })}
      <div className="form-actions">
        <button type="submit" className="button button-primary" aria-disabled={busy}>
          {editing ? t("design.designer.saveField") : t("design.designer.addField")}
        </button>
        {onCancel && (
          <button type="button" className="button" onClick={onCancel}>
            {t("design.designer.cancel")}
          </button>
        )}
      </div>
    </form>
  );
}
