import { useId, useState } from "react";
import { useTranslation } from "react-i18next";
import type { FieldDefinition, ObjectDefinition, ObjectPermission } from "../../api/types";
import type { FilterOperator, ViewFilter } from "../../api/workspace";
import { useLanguage } from "../../components/useLanguage";
import { fieldLabel, optionLabel } from "../../records/fields";
import { filterableFields, filterControl, newFilter, operatorsFor } from "../../records/filters";

/** The list's filters, one row per condition: field, operator and a value input by type. */
export function FilterPanel({
  object,
  permission,
  filters,
  onChange,
}: {
  object: ObjectDefinition;
  permission: ObjectPermission | null;
  filters: ViewFilter[];
  onChange: (filters: ViewFilter[]) => void;
}) {
  const { t } = useTranslation();
  const language = useLanguage();
  const id = useId();
  const fields = filterableFields(object, permission);
  const [adding, setAdding] = useState("");

  function add(name: string) {
    const field = fields.find((f) => f.name === name);
    if (!field) return;
    onChange([...filters, newFilter(field)]);
    setAdding("");
    // Focus the new filter's value once it is rendered.
    setTimeout(() => document.getElementById(`${id}-value-${filters.length}`)?.focus(), 0);
  }

  function update(index: number, change: Partial<ViewFilter>) {
    onChange(filters.map((f, i) => (i === index ? { ...f, ...change } : f)));
  }

  if (fields.length === 0) return null;
  return (
    <fieldset className="filter-panel">
      <legend>{t("workspace.filters.legend")}</legend>
      {filters.length === 0 && <p className="muted">{t("workspace.filters.none")}</p>}
      {filters.map((filter, index) => {
        const field = fields.find((f) => f.name === filter.field);
        if (!field) return null;
        const label = fieldLabel(field, language);
        return (
          <div key={index} className="filter-row">
            <span className="filter-field">{label}</span>
            <label className="visually-hidden" htmlFor={`${id}-op-${index}`}>
              {t("workspace.filters.operator", { field: label })}
            </label>
            <select
              id={`${id}-op-${index}`}
              value={filter.operator}
              onChange={(e) => update(index, { operator: e.target.value as FilterOperator })}
            >
              {operatorsFor(field).map((op) => (
                <option key={op} value={op}>
                  {t(`workspace.filters.operators.${op}`)}
                </option>
              ))}
            </select>
            <label className="visually-hidden" htmlFor={`${id}-value-${index}`}>
              {t("workspace.filters.value", { field: label })}
            </label>
            <FilterValue
              id={`${id}-value-${index}`}
              field={field}
              value={filter.value}
              onChange={(value) => update(index, { value })}
            />
            <button
              type="button"
              className="button button-quiet"
              onClick={() => onChange(filters.filter((_, i) => i !== index))}
            >
              {t("workspace.filters.remove", { field: label })}
            </button>
          </div>
        );
      })}
      <div className="field field-inline">
        <label htmlFor={`${id}-add`}>{t("workspace.filters.add")}</label>
        <select id={`${id}-add`} value={adding} onChange={(e) => add(e.target.value)}>
          <option value="">{t("workspace.filters.any")}</option>
          {fields.map((f) => (
            <option key={f.name} value={f.name}>
              {fieldLabel(f, language)}
            </option>
          ))}
        </select>
      </div>
    </fieldset>
  );
}

function FilterValue({
  id,
  field,
  value,
  onChange,
}: {
  id: string;
  field: FieldDefinition;
  value: string;
  onChange: (value: string) => void;
}) {
  const { t } = useTranslation();
  const language = useLanguage();
  switch (filterControl(field)) {
    case "select":
      return (
        <select id={id} value={value} onChange={(e) => onChange(e.target.value)}>
          <option value="">{t("workspace.filters.any")}</option>
          {field.options.map((o) => (
            <option key={o.value} value={o.value}>
              {optionLabel(field, o.value, language)}
            </option>
          ))}
        </select>
      );
    case "boolean":
      return (
        <select id={id} value={value} onChange={(e) => onChange(e.target.value)}>
          <option value="">{t("workspace.filters.any")}</option>
          <option value="true">{t("common.yes")}</option>
          <option value="false">{t("common.no")}</option>
        </select>
      );
    case "number":
      return (
        <input id={id} type="number" step="any" value={value} onChange={(e) => onChange(e.target.value)} />
      );
    case "date":
      return <input id={id} type="date" value={value} onChange={(e) => onChange(e.target.value)} />;
    case "text":
      return (
        <input id={id} type="text" autoComplete="off" value={value} onChange={(e) => onChange(e.target.value)} />
      );
  }
}
