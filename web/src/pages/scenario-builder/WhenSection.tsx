/**
 * WHEN: the trigger (event types from the catalog, or a key falling silent), an optional event
 * filter, the records to look up and the windows to count over.
 */
import { useTranslation } from "react-i18next";
import type { ObjectDefinition } from "../../api/types";
import type { EventTypeListed } from "../../api/scenarios";
import { updateAt } from "../../scenario-builder/chain";
import {
  asArray,
  asText,
  isObject,
  whenOf,
  without,
  type Definition,
  type LookupDef,
  type WhenDef,
  type WindowDef,
} from "../../scenario-builder/definition";
import type { DefinitionErrors } from "../../scenario-builder/errors";
import { shortName, type FieldSuggestion } from "../../scenario-builder/fields";
import { ConditionEditor } from "./ConditionEditor";
import { ErrorList } from "./ErrorList";
import { EventTypePicker } from "./EventTypePicker";
import { LabeledSelect } from "./LabeledSelect";

interface Props {
  definition: Definition;
  onChange: (definition: Definition) => void;
  errors: DefinitionErrors;
  catalog: EventTypeListed[];
  objects: ObjectDefinition[];
  /** Fields of the trigger's event (for the filter and lookups). */
  eventFields: FieldSuggestion[];
}

const AGGREGATES = ["count", "sum", "avg", "min", "max", "distinct"] as const;

export function WhenSection({ definition, onChange, errors, catalog, objects, eventFields }: Props) {
  const { t } = useTranslation();
  const when = whenOf(definition);
  const absence = isObject(when.absence) ? when.absence : null;
  const set = (pointer: string, value: unknown) => onChange(updateAt(definition, pointer, () => value));
  const setWhen = (next: WhenDef) => onChange({ ...definition, when: next });

  const lookups = asArray<LookupDef>(definition.lookups);
  const windows = asArray<WindowDef>(definition.windows);

  return (
    <section className="builder-section" aria-labelledby="when-heading">
      <h2 id="when-heading">
        <span className="keyword">{t("builder.when.keyword")}</span> {t("builder.when.heading")}
      </h2>
      <fieldset className="trigger-kind">
        <legend>{t("builder.when.trigger")}</legend>
        <label className="check">
          <input
            type="radio"
            name="trigger"
            checked={absence === null}
            onChange={() => setWhen({ events: asArray<string>(absence?.events), ...(when.filter ? { filter: when.filter } : {}) })}
          />
          {t("builder.when.onEvent")}
        </label>
        <label className="check">
          <input
            type="radio"
            name="trigger"
            checked={absence !== null}
            onChange={() => setWhen({ absence: { events: asArray<string>(when.events), after: "1d" } })}
          />
          {t("builder.when.onSilence")}
        </label>
      </fieldset>
      {absence === null ? (
        <>
          <EventTypePicker
            label={t("builder.when.types")}
            chosen={asArray<string>(when.events)}
            onChange={(types) => set("/when/events", types)}
            catalog={catalog}
          />
          <ErrorList errors={errors.under("/when/events")} />
          {typeof when.filter === "string" ? (
            <>
              <ConditionEditor
                cel={when.filter}
                onChange={(cel) => set("/when/filter", cel)}
                pointer="/when/filter"
                errors={errors}
                fields={eventFields}
                legend={t("builder.when.filter")}
                idPrefix="filter"
              />
              <button
                type="button"
                onClick={() => setWhen(without(when, "filter"))}
              >
                {t("builder.when.removeFilter")}
              </button>
            </>
          ) : (
            <button type="button" onClick={() => set("/when/filter", "")}>
              {t("builder.when.addFilter")}
            </button>
          )}
        </>
      ) : (
        <div className="absence">
          <EventTypePicker
            label={t("builder.when.silentTypes")}
            chosen={asArray<string>(absence.events)}
            onChange={(types) => set("/when/absence/events", types)}
            catalog={catalog}
          />
          <label>
            <span>{t("builder.when.after")}</span>
            <input
              value={asText(absence.after)}
              placeholder="1d"
              onChange={(e) => set("/when/absence/after", e.target.value)}
            />
          </label>
          <label>
            <span>{t("builder.when.keyField")}</span>
            <input
              value={asText(absence.key_field)}
              placeholder="device_id"
              onChange={(e) => set("/when/absence/key_field", e.target.value || undefined)}
            />
          </label>
          <ErrorList errors={errors.under("/when/absence")} />
        </div>
      )}
      <ErrorList errors={errors.at("/when")} />

      <h3>{t("builder.lookups.heading")}</h3>
      <p className="hint">{t("builder.lookups.hint")}</p>
      {lookups.map((lookup, index) => {
        const pointer = `/lookups/${index}`;
        const object = objects.find((o) => o.name === lookup.object);
        const [matchField, matchValue] = Object.entries(isObject(lookup.match) ? lookup.match : {})[0] ?? ["", ""];
        const byId = typeof lookup.id === "string";
        return (
          <fieldset key={index} className="lookup">
            <legend>{t("builder.lookups.legend", { number: index + 1 })}</legend>
            <label>
              <span>{t("builder.lookups.name")}</span>
              <input value={asText(lookup.name)} onChange={(e) => set(`${pointer}/name`, e.target.value)} />
            </label>
            <LabeledSelect label={t("builder.lookups.object")} value={asText(lookup.object)} onChange={(e) => set(`${pointer}/object`, e.target.value)}>
                <option value="">{t("builder.lookups.chooseObject")}</option>
                {objects.map((o) => (
                  <option key={o.name} value={o.name}>
                    {o.label}
                  </option>
                ))}
              </LabeledSelect>
            <LabeledSelect label={t("builder.lookups.by")}
                value={byId ? "id" : "match"}
                onChange={(e) =>
                  set(pointer, e.target.value === "id"
                    ? { name: lookup.name, object: lookup.object, id: "" }
                    : { name: lookup.name, object: lookup.object, match: {} })
                }
              >
                <option value="match">{t("builder.lookups.byField")}</option>
                <option value="id">{t("builder.lookups.byId")}</option>
              </LabeledSelect>
            {!byId && (
              <LabeledSelect label={t("builder.lookups.field")}
                  value={matchField}
                  onChange={(e) => set(`${pointer}/match`, e.target.value ? { [e.target.value]: matchValue } : {})}
                >
                  <option value="">{t("builder.lookups.chooseField")}</option>
                  {(object?.fields ?? []).map((f) => (
                    <option key={f.name} value={f.name}>
                      {f.label}
                    </option>
                  ))}
                </LabeledSelect>
            )}
            <LabeledSelect label={byId ? t("builder.lookups.idFrom") : t("builder.lookups.equals")}
                value={byId ? asText(lookup.id) : matchValue}
                onChange={(e) =>
                  byId
                    ? set(`${pointer}/id`, e.target.value)
                    : set(`${pointer}/match`, { [matchField || "id"]: e.target.value })
                }
              >
                <option value="">{t("builder.lookups.chooseSource")}</option>
                {eventFields.map((f) => (
                  <option key={f.path} value={f.path}>
                    {shortName(f.path)}
                  </option>
                ))}
              </LabeledSelect>
            <button type="button" onClick={() => set("/lookups", lookups.filter((_, i) => i !== index))}>
              {t("builder.lookups.remove", { number: index + 1 })}
            </button>
            <ErrorList errors={errors.under(pointer)} />
          </fieldset>
        );
      })}
      <button
        type="button"
        onClick={() => set("/lookups", [...lookups, { name: `record_${lookups.length + 1}`, object: "", match: {} }])}
      >
        {t("builder.lookups.add")}
      </button>

      <h3>{t("builder.windows.heading")}</h3>
      <p className="hint">{t("builder.windows.hint")}</p>
      {windows.map((window, index) => {
        const pointer = `/windows/${index}`;
        return (
          <fieldset key={index} className="window">
            <legend>{t("builder.windows.legend", { number: index + 1 })}</legend>
            <label>
              <span>{t("builder.windows.name")}</span>
              <input value={asText(window.name)} onChange={(e) => set(`${pointer}/name`, e.target.value)} />
            </label>
            <LabeledSelect label={t("builder.windows.aggregate")} value={asText(window.aggregate)} onChange={(e) => set(`${pointer}/aggregate`, e.target.value)}>
                {AGGREGATES.map((a) => (
                  <option key={a} value={a}>
                    {t(`builder.windows.aggregates.${a}`)}
                  </option>
                ))}
              </LabeledSelect>
            <label>
              <span>{t("builder.windows.events")}</span>
              <input
                value={asArray<string>(window.events).join(", ")}
                onChange={(e) =>
                  set(
                    `${pointer}/events`,
                    e.target.value.split(",").map((v) => v.trim()).filter(Boolean),
                  )
                }
              />
            </label>
            <label>
              <span>{t("builder.windows.size")}</span>
              <input value={asText(window.size)} placeholder="24h" onChange={(e) => set(`${pointer}/size`, e.target.value)} />
            </label>
            {window.aggregate !== "count" && (
              <label>
                <span>{t("builder.windows.field")}</span>
                <input
                  value={asText(window.field)}
                  onChange={(e) => set(`${pointer}/field`, e.target.value || undefined)}
                />
              </label>
            )}
            <LabeledSelect label={t("builder.windows.kind")}
                value={asText(window.kind) || "sliding"}
                onChange={(e) => set(`${pointer}/kind`, e.target.value)}
              >
                <option value="sliding">{t("builder.windows.sliding")}</option>
                <option value="tumbling">{t("builder.windows.tumbling")}</option>
              </LabeledSelect>
            <button type="button" onClick={() => set("/windows", windows.filter((_, i) => i !== index))}>
              {t("builder.windows.remove", { number: index + 1 })}
            </button>
            <ErrorList errors={errors.under(pointer)} />
          </fieldset>
        );
      })}
      <button
        type="button"
        onClick={() =>
          set("/windows", [
            ...windows,
            {
              name: `window_${windows.length + 1}`,
              events: asArray<string>(when.events),
              size: "24h",
              aggregate: "count",
            },
          ])
        }
      >
        {t("builder.windows.add")}
      </button>
    </section>
  );
}
