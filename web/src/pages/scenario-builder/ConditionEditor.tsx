/**
 * One condition, edited as a form (rows of field, operator, value in all/any groups → CEL) or
 * as CEL text in CodeMirror with the server's problems as inline markers. A condition written
 * in another shape opens as CEL; the form's rows that are not complete yet stay in the form
 * (they are left out of the CEL until they are).
 */
import { useState } from "react";
import { useTranslation } from "react-i18next";
import {
  celOf,
  emptyGroup,
  emptyRow,
  OPERATORS,
  parseCel,
  takesList,
  takesNoValue,
  type Group,
  type Operator,
  type Row,
} from "../../scenario-builder/cel";
import type { DefinitionErrors } from "../../scenario-builder/errors";
import { shortName, valueKindOf, type FieldSuggestion } from "../../scenario-builder/fields";
import { CodeEditor, type Marker } from "../../components/CodeEditor";
import { ErrorList } from "./ErrorList";
import { LabeledSelect } from "./LabeledSelect";

interface Props {
  cel: string;
  onChange: (cel: string) => void;
  /** JSON Pointer of the CEL text in the definition (its problems are shown here). */
  pointer: string;
  errors: DefinitionErrors;
  fields: FieldSuggestion[];
  legend: string;
  idPrefix: string;
}

const OTHER = "__other";

function offsetOf(error: object): number | null {
  const offset = (error as { offset?: unknown }).offset;
  return typeof offset === "number" ? offset : null;
}

export function ConditionEditor({ cel, onChange, pointer, errors, fields, legend, idPrefix }: Props) {
  const { t } = useTranslation();
  const parsed = parseCel(cel);
  const [draft, setDraft] = useState<Group>(() => (parsed && parsed.items.length > 0 ? parsed : emptyGroup()));
  const [mode, setMode] = useState<"form" | "cel">(parsed ? "form" : "cel");
  const [seen, setSeen] = useState(cel);
  const [emitted, setEmitted] = useState(cel);
  const [cannotForm, setCannotForm] = useState(false);

  // The CEL changed from outside (YAML, a loaded version): read it again.
  if (cel !== seen) {
    setSeen(cel);
    if (cel !== emitted) {
      setEmitted(cel);
      const again = parseCel(cel);
      if (again) setDraft(again.items.length > 0 ? again : emptyGroup());
      else setMode("cel");
    }
  }

  const own = errors.under(pointer);
  const errorId = `${idPrefix}-errors`;

  const change = (next: Group) => {
    setDraft(next);
    const text = celOf(next);
    setEmitted(text);
    setSeen(text);
    if (text !== cel) onChange(text);
  };

  const typed = (text: string) => {
    setEmitted(text);
    setSeen(text);
    onChange(text);
  };

  const toForm = () => {
    const again = parseCel(cel);
    if (!again) {
      setCannotForm(true);
      return;
    }
    setCannotForm(false);
    setDraft(again.items.length > 0 ? again : emptyGroup());
    setMode("form");
  };

  const markers: Marker[] = own.map((error) => {
    const offset = offsetOf(error);
    return offset === null
      ? { from: 0, to: cel.length, message: error.message }
      : { from: offset, to: offset + 1, message: error.message };
  });

  return (
    <fieldset className="condition" aria-describedby={own.length > 0 ? errorId : undefined}>
      <legend>{legend}</legend>
      {mode === "form" ? (
        <>
          <GroupEditor group={draft} onChange={change} fields={fields} depth={0} idPrefix={idPrefix} />
          <p className="condition-preview">
            {t("builder.condition.preview")} <code>{celOf(draft) || t("builder.condition.emptyPreview")}</code>
          </p>
          <button type="button" className="link-button" onClick={() => setMode("cel")}>
            {t("builder.condition.editCel")}
          </button>
        </>
      ) : (
        <>
          <CodeEditor
            value={cel}
            onChange={typed}
            language="cel"
            label={t("builder.condition.celLabel", { legend })}
            markers={markers}
          />
          <button type="button" className="link-button" onClick={toForm}>
            {t("builder.condition.editForm")}
          </button>
          {cannotForm && <p className="hint">{t("builder.condition.notForm")}</p>}
        </>
      )}
      <ErrorList id={errorId} errors={own} />
    </fieldset>
  );
}

function GroupEditor({
  group,
  onChange,
  fields,
  depth,
  idPrefix,
}: {
  group: Group;
  onChange: (group: Group) => void;
  fields: FieldSuggestion[];
  depth: number;
  idPrefix: string;
}) {
  const { t } = useTranslation();
  const setItem = (index: number, item: Row | Group) =>
    onChange({ ...group, items: group.items.map((old, i) => (i === index ? item : old)) });
  const remove = (index: number) => onChange({ ...group, items: group.items.filter((_, i) => i !== index) });
  return (
    <div className={depth > 0 ? "condition-group nested" : "condition-group"}>
      <LabeledSelect label={t("builder.condition.match")}
          value={group.combinator}
          onChange={(e) => onChange({ ...group, combinator: e.target.value === "any" ? "any" : "all" })}
        >
          <option value="all">{t("builder.condition.all")}</option>
          <option value="any">{t("builder.condition.any")}</option>
        </LabeledSelect>
      <ol className="condition-rows">
        {group.items.map((item, index) => (
          <li key={index}>
            {item.kind === "row" ? (
              <RowEditor
                row={item}
                number={index + 1}
                fields={fields}
                onChange={(row) => setItem(index, row)}
                onRemove={() => remove(index)}
                idPrefix={`${idPrefix}-${depth}-${index}`}
              />
            ) : (
              <fieldset className="condition-subgroup">
                <legend>{t("builder.condition.group", { number: index + 1 })}</legend>
                <GroupEditor
                  group={item}
                  onChange={(next) => setItem(index, next)}
                  fields={fields}
                  depth={depth + 1}
                  idPrefix={`${idPrefix}-${depth}-${index}`}
                />
                <button type="button" onClick={() => remove(index)}>
                  {t("builder.condition.removeGroup", { number: index + 1 })}
                </button>
              </fieldset>
            )}
          </li>
        ))}
      </ol>
      <div className="button-row">
        <button type="button" onClick={() => onChange({ ...group, items: [...group.items, emptyRow()] })}>
          {t("builder.condition.addRow")}
        </button>
        {depth === 0 && (
          <button type="button" onClick={() => onChange({ ...group, items: [...group.items, emptyGroup()] })}>
            {t("builder.condition.addGroup")}
          </button>
        )}
      </div>
    </div>
  );
}

function RowEditor({
  row,
  number,
  fields,
  onChange,
  onRemove,
  idPrefix,
}: {
  row: Row;
  number: number;
  fields: FieldSuggestion[];
  onChange: (row: Row) => void;
  onRemove: () => void;
  idPrefix: string;
}) {
  const { t } = useTranslation();
  const suggestion = fields.find((f) => f.path === row.field);
  const [other, setOther] = useState(row.field !== "" && !suggestion);
  const origins = [...new Set(fields.map((f) => f.origin))];
  const choices = suggestion?.choices ?? [];

  const pickField = (value: string) => {
    if (value === OTHER) {
      setOther(true);
      onChange({ ...row, field: "" });
      return;
    }
    setOther(false);
    const picked = fields.find((f) => f.path === value);
    onChange({ ...row, field: value, value: "", values: [], valueKind: valueKindOf(picked) });
  };

  return (
    <div className="condition-row" role="group" aria-label={t("builder.condition.row", { number })}>
      <LabeledSelect label={t("builder.condition.field")} value={other ? OTHER : row.field} onChange={(e) => pickField(e.target.value)}>
          <option value="">{t("builder.condition.chooseField")}</option>
          {origins.map((origin) => (
            <optgroup key={origin} label={origin}>
              {fields
                .filter((f) => f.origin === origin)
                .map((f) => (
                  <option key={f.path} value={f.path}>
                    {shortName(f.path)}
                  </option>
                ))}
            </optgroup>
          ))}
          <option value={OTHER}>{t("builder.condition.otherField")}</option>
        </LabeledSelect>
      {other && (
        <label>
          <span>{t("builder.condition.fieldPath")}</span>
          <input
            value={row.field}
            placeholder="event.data.code"
            onChange={(e) => onChange({ ...row, field: e.target.value.trim() })}
          />
        </label>
      )}
      <LabeledSelect label={t("builder.condition.operator")}
          value={row.operator}
          onChange={(e) => onChange({ ...row, operator: e.target.value as Operator })}
        >
          {OPERATORS.map((op) => (
            <option key={op} value={op}>
              {t(`builder.operators.${op}`)}
            </option>
          ))}
        </LabeledSelect>
      <ValueInput row={row} choices={choices} onChange={onChange} idPrefix={idPrefix} />
      {other && (
        <LabeledSelect label={t("builder.condition.valueKind")}
            value={row.valueKind}
            onChange={(e) => onChange({ ...row, valueKind: e.target.value as Row["valueKind"] })}
          >
            <option value="text">{t("builder.condition.kinds.text")}</option>
            <option value="number">{t("builder.condition.kinds.number")}</option>
            <option value="boolean">{t("builder.condition.kinds.boolean")}</option>
          </LabeledSelect>
      )}
      <button type="button" className="remove" onClick={onRemove}>
        {t("builder.condition.removeRow", { number })}
      </button>
    </div>
  );
}

function ValueInput({
  row,
  choices,
  onChange,
  idPrefix,
}: {
  row: Row;
  choices: string[];
  onChange: (row: Row) => void;
  idPrefix: string;
}) {
  const { t } = useTranslation();
  if (takesNoValue(row.operator)) return null;
  if (takesList(row.operator)) {
    if (choices.length > 0) {
      return (
        <fieldset className="choice-list">
          <legend>{t("builder.condition.values")}</legend>
          {choices.map((choice) => (
            <label key={choice} className="check">
              <input
                type="checkbox"
                checked={row.values.includes(choice)}
                onChange={(e) =>
                  onChange({
                    ...row,
                    values: e.target.checked
                      ? choices.filter((c) => c === choice || row.values.includes(c))
                      : row.values.filter((v) => v !== choice),
                  })
                }
              />
              {choice}
            </label>
          ))}
        </fieldset>
      );
    }
    return (
      <label>
        <span>{t("builder.condition.valuesList")}</span>
        <input
          value={row.values.join(", ")}
          onChange={(e) =>
            onChange({
              ...row,
              values: e.target.value
                .split(",")
                .map((v) => v.trim())
                .filter((v) => v !== ""),
            })
          }
        />
      </label>
    );
  }
  if (choices.length > 0 || row.valueKind === "boolean") {
    const options = row.valueKind === "boolean" ? ["true", "false"] : choices;
    return (
      <LabeledSelect label={t("builder.condition.value")} value={row.value} onChange={(e) => onChange({ ...row, value: e.target.value })}>
          <option value="">{t("builder.condition.chooseValue")}</option>
          {options.map((choice) => (
            <option key={choice} value={choice}>
              {choice}
            </option>
          ))}
        </LabeledSelect>
    );
  }
  const invalid = row.value !== "" && row.valueKind === "number" && !/^-?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(row.value.trim());
  return (
    <label>
      <span>{t("builder.condition.value")}</span>
      <input
        value={row.value}
        inputMode={row.valueKind === "number" ? "decimal" : undefined}
        aria-invalid={invalid || undefined}
        aria-describedby={invalid ? `${idPrefix}-number` : undefined}
        onChange={(e) => onChange({ ...row, value: e.target.value })}
      />
      {invalid && (
        <span className="field-error" id={`${idPrefix}-number`}>
          {t("builder.condition.notNumber")}
        </span>
      )}
    </label>
  );
}
