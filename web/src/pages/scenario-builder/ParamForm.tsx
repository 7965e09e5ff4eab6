/**
 * A step's parameters as a form made from the action's parameter specs (GET /scenarios/actions):
 * one input per parameter by its kind (choices offered as suggestions), the required ones
 * marked, and beside each text-like input a picker that inserts a field of the event, a lookup
 * or an earlier step — so values can be filled without writing templates or CEL.
 */
import { useId } from "react";
import { useTranslation } from "react-i18next";
import type { ActionSpec } from "../../api/scenarios";
import { escapePointer } from "../../scenario-builder/chain";
import { without } from "../../scenario-builder/definition";
import type { DefinitionErrors } from "../../scenario-builder/errors";
import { shortName, type FieldSuggestion } from "../../scenario-builder/fields";
import { insertField, parseValue, valueText, type ParamKind } from "../../scenario-builder/params";
import { ErrorList } from "./ErrorList";

const LONG_TEXT = new Set(["description", "message", "text", "html"]);

interface Props {
  spec: ActionSpec;
  values: Record<string, unknown>;
  onChange: (values: Record<string, unknown>) => void;
  pointer: string;
  errors: DefinitionErrors;
  fields: FieldSuggestion[];
}

export function ParamForm({ spec, values, onChange, pointer, errors, fields }: Props) {
  const { t } = useTranslation();
  const set = (name: string, value: unknown) => {
    onChange(value === undefined ? without(values, name) : { ...values, [name]: value });
  };
  const unknown = Object.keys(values).filter((name) => !(name in spec.params));
  return (
    <fieldset className="param-form">
      <legend>{t("builder.params.legend")}</legend>
      {spec.one_of.map((group) => (
        <p key={group.join()} className="hint">
          {t("builder.params.oneOf", { names: group.join(", ") })}
        </p>
      ))}
      {Object.entries(spec.params).map(([name, param]) => (
        <ParamInput
          key={name}
          name={name}
          kind={param.kind}
          required={param.required}
          description={param.description}
          choices={param.choices ?? []}
          value={values[name]}
          onChange={(value) => set(name, value)}
          pointer={`${pointer}/${escapePointer(name)}`}
          errors={errors}
          fields={fields}
        />
      ))}
      {unknown.map((name) => (
        <div key={name} className="param unknown-param">
          <p>
            <code>{name}</code>: {valueText(values[name])}
          </p>
          <ErrorList errors={errors.under(`${pointer}/${escapePointer(name)}`)} />
          <button type="button" onClick={() => set(name, undefined)}>
            {t("builder.params.removeUnknown", { name })}
          </button>
        </div>
      ))}
      <ErrorList errors={errors.at(pointer)} />
    </fieldset>
  );
}

function ParamInput({
  name,
  kind,
  required,
  description,
  choices,
  value,
  onChange,
  pointer,
  errors,
  fields,
}: {
  name: string;
  kind: ParamKind;
  required: boolean;
  description: string;
  choices: string[];
  value: unknown;
  onChange: (value: unknown) => void;
  pointer: string;
  errors: DefinitionErrors;
  fields: FieldSuggestion[];
}) {
  const { t } = useTranslation();
  const id = useId();
  const own = errors.under(pointer);
  const describedBy = [description ? `${id}-hint` : "", own.length > 0 ? `${id}-errors` : ""].filter(Boolean).join(" ");
  const label = required ? t("builder.params.required", { name }) : name;
  const text = valueText(value);
  const common = {
    id,
    "aria-describedby": describedBy || undefined,
    "aria-invalid": own.length > 0 || undefined,
  };

  let input;
  if (kind === "boolean" && (value === undefined || typeof value === "boolean")) {
    input = (
      <input {...common} type="checkbox" checked={value === true} onChange={(e) => onChange(e.target.checked)} />
    );
  } else if (LONG_TEXT.has(name) && kind === "text") {
    input = <textarea {...common} rows={2} value={text} onChange={(e) => onChange(parseValue(e.target.value, kind))} />;
  } else {
    input = (
      <input
        {...common}
        value={text}
        list={choices.length > 0 ? `${id}-choices` : undefined}
        inputMode={kind === "number" ? "decimal" : undefined}
        onChange={(e) => onChange(parseValue(e.target.value, kind))}
      />
    );
  }
  return (
    <div className={`param param-${kind}`}>
      <label htmlFor={id}>{label}</label>
      {input}
      {choices.length > 0 && (
        <datalist id={`${id}-choices`}>
          {choices.map((choice) => (
            <option key={choice} value={choice} />
          ))}
        </datalist>
      )}
      {kind !== "boolean" && fields.length > 0 && (
        <select
          className="insert-field"
          aria-label={t("builder.params.insert", { name })}
          value=""
          onChange={(e) => {
            if (e.target.value) onChange(insertField(value, e.target.value, kind));
          }}
        >
          <option value="">{t("builder.params.insertHint")}</option>
          {fields.map((field) => (
            <option key={field.path} value={field.path}>
              {field.origin === "steps" || !field.path.startsWith("event.data.")
                ? field.path
                : t("builder.params.eventField", { name: shortName(field.path) })}
            </option>
          ))}
        </select>
      )}
      {description && (
        <span className="hint" id={`${id}-hint`}>
          {description}
        </span>
      )}
      {own.length > 0 && <ErrorList id={`${id}-errors`} errors={own} />}
    </div>
  );
}
