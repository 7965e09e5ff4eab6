import { useTranslation } from "react-i18next";
import type { FieldDefinition } from "../../api/types";
import { useLanguage } from "../../components/useLanguage";
import { inputKind, type InputValue } from "../../records/editing";
import { fieldLabel, optionLabel } from "../../records/fields";
import { RelationPicker } from "./RelationPicker";

export function inputId(field: string): string {
  return `field-${field}`;
}

/**
 * One labelled control for a field, by type, with its error (from a 422's JSON Pointer) and,
 * after a conflict, the value the other person saved.
 */
export function FieldInput({
  field,
  value,
  onChange,
  errors,
  theirs,
}: {
  field: FieldDefinition;
  value: InputValue;
  onChange: (value: InputValue) => void;
  errors: string[] | undefined;
  /** Their saved value as display text, when they changed this field too. */
  theirs: string | null;
}) {
  const { t } = useTranslation();
  const language = useLanguage();
  const kind = inputKind(field);
  const id = inputId(field.name);
  const label = fieldLabel(field, language);
  const errorId = `${id}-error`;
  const theirsId = `${id}-theirs`;
  const describedBy =
    [errors?.length ? errorId : null, theirs !== null ? theirsId : null].filter(Boolean).join(" ") ||
    undefined;
  const invalid = errors?.length ? true : undefined;
  const text = typeof value === "string" ? value : "";

  const messages = (
    <>
      {errors?.length ? (
        <p id={errorId} className="field-error">
          {errors.join(" ")}
        </p>
      ) : null}
      {theirs !== null && (
        <p id={theirsId} className="field-theirs">
          {t("record.conflict.theirs", { value: theirs })}
        </p>
      )}
    </>
  );

  if (kind === "checkbox") {
    return (
      <div className="field field-check">
        <input
          id={id}
          type="checkbox"
          checked={value === true}
          onChange={(event) => onChange(event.target.checked)}
          aria-invalid={invalid}
          aria-describedby={describedBy}
        />
        <label htmlFor={id}>{label}</label>
        {messages}
      </div>
    );
  }

  if (kind === "multi") {
    const chosen = Array.isArray(value) ? value : [];
    return (
      <fieldset className="field" aria-describedby={describedBy} aria-invalid={invalid}>
        <legend>{label}</legend>
        {field.options.map((option) => {
          const optionId = `${id}-${option.value}`;
          return (
            <div key={option.value} className="check">
              <input
                id={optionId}
                type="checkbox"
                checked={chosen.includes(option.value)}
                onChange={(event) =>
                  onChange(
                    event.target.checked
                      ? [...chosen, option.value]
                      : chosen.filter((v) => v !== option.value),
                  )
                }
              />
              <label htmlFor={optionId}>{optionLabel(field, option.value, language)}</label>
            </div>
          );
        })}
        {messages}
      </fieldset>
    );
  }

  if (kind === "relation") {
    return (
      <div className="field">
        <RelationPicker
          field={field}
          value={text}
          onChange={onChange}
          inputId={id}
          label={label}
          describedBy={describedBy}
          invalid={invalid}
        />
        {messages}
      </div>
    );
  }

  const common = {
    id,
    name: field.name,
    required: field.required,
    "aria-invalid": invalid,
    "aria-describedby": describedBy,
  };

  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      {kind === "textarea" || kind === "json" ? (
        <textarea
          {...common}
          rows={kind === "json" ? 6 : 4}
          spellCheck={kind === "json" ? false : undefined}
          className={kind === "json" ? "code-input" : undefined}
          value={text}
          onChange={(e) => onChange(e.target.value)}
        />
      ) : kind === "select" ? (
        <select {...common} value={text} onChange={(e) => onChange(e.target.value)}>
          <option value="">{t("common.none")}</option>
          {field.options.map((option) => (
            <option key={option.value} value={option.value}>
              {optionLabel(field, option.value, language)}
            </option>
          ))}
          {text && !field.options.some((o) => o.value === text) && <option value={text}>{text}</option>}
        </select>
      ) : (
        <input
          {...common}
          type={kind ?? "text"}
          value={text}
          step={kind === "number" ? "any" : undefined}
          min={kind === "number" && field.minimum !== null ? field.minimum : undefined}
          max={kind === "number" && field.maximum !== null ? field.maximum : undefined}
          maxLength={field.max_length ?? undefined}
          onChange={(e) => onChange(e.target.value)}
        />
      )}
      {messages}
    </div>
  );
}
