import { useTranslation } from "react-i18next";
import type { GraphFilters } from "../../api/graph";
import type { ObjectDefinition } from "../../api/types";
import { useLanguage } from "../../components/useLanguage";
import { DEPTHS, relationOptions, toggle, typeOptions } from "../../graph/filters";
import { fieldLabel, objectLabel } from "../../records/fields";

/** Depth, relation and record-type filters of the explorer (the server applies them). */
export function FilterPanel({
  objects,
  depth,
  filters,
  onDepth,
  onFilters,
}: {
  objects: readonly ObjectDefinition[];
  depth: number;
  filters: GraphFilters;
  onDepth: (depth: number) => void;
  onFilters: (filters: GraphFilters) => void;
}) {
  const { t } = useTranslation();
  const language = useLanguage();
  const relations = relationOptions(objects);
  const types = typeOptions(objects);
  const byName = new Map(objects.map((o) => [o.name, o]));
  const count = (chosen: string[]) =>
    chosen.length === 0 ? t("graph.explorer.all") : t("graph.explorer.chosen", { count: chosen.length });
  return (
    <div className="graph-filters">
      <div className="field field-inline">
        <label htmlFor="graph-depth">{t("graph.explorer.depth")}</label>
        <select id="graph-depth" value={depth} onChange={(event) => onDepth(Number(event.target.value))}>
          {DEPTHS.map((d) => (
            <option key={d} value={d}>
              {d}
            </option>
          ))}
        </select>
      </div>
      <details className="graph-filter">
        <summary>
          {t("graph.explorer.relations")} ({count(filters.relations)})
        </summary>
        <fieldset>
          <legend className="graph-sr-only">{t("graph.explorer.relations")}</legend>
          {relations.map((option) => {
            const target = byName.get(option.target);
            const text = t("graph.explorer.relationName", {
              object: objectLabel(option.object, language),
              field: fieldLabel(option.field, language),
            });
            return (
              <label key={option.value} className="check">
                <input
                  type="checkbox"
                  checked={filters.relations.includes(option.value)}
                  onChange={() => onFilters({ ...filters, relations: toggle(filters.relations, option.value) })}
                />
                <span title={target ? `${option.value} → ${target.name}` : option.value}>{text}</span>
              </label>
            );
          })}
        </fieldset>
      </details>
      <details className="graph-filter">
        <summary>
          {t("graph.explorer.types")} ({count(filters.types)})
        </summary>
        <fieldset>
          <legend className="graph-sr-only">{t("graph.explorer.types")}</legend>
          {types.map((object) => (
            <label key={object.name} className="check">
              <input
                type="checkbox"
                checked={filters.types.includes(object.name)}
                onChange={() => onFilters({ ...filters, types: toggle(filters.types, object.name) })}
              />
              {objectLabel(object, language)}
            </label>
          ))}
        </fieldset>
      </details>
      {(filters.relations.length > 0 || filters.types.length > 0) && (
        <button type="button" className="button button-quiet" onClick={() => onFilters({ relations: [], types: [] })}>
          {t("graph.explorer.clear")}
        </button>
      )}
    </div>
  );
}
