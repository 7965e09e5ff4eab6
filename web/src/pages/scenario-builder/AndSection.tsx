/** AND: the conditions that must all hold for a run to start, each a form or CEL. */
import { useTranslation } from "react-i18next";
import {
  asArray,
  asText,
  conditionCel,
  conditionPointer,
  isObject,
  type ConditionDef,
  type Definition,
} from "../../scenario-builder/definition";
import type { DefinitionErrors } from "../../scenario-builder/errors";
import type { FieldSuggestion } from "../../scenario-builder/fields";
import { ConditionEditor } from "./ConditionEditor";
import { ErrorList } from "./ErrorList";

interface Props {
  definition: Definition;
  onChange: (definition: Definition) => void;
  errors: DefinitionErrors;
  fields: FieldSuggestion[];
}

export function AndSection({ definition, onChange, errors, fields }: Props) {
  const { t } = useTranslation();
  const conditions = asArray<string | ConditionDef>(definition.and);
  const setAll = (next: (string | ConditionDef)[]) => onChange({ ...definition, and: next });
  const setCel = (index: number, cel: string) =>
    setAll(
      conditions.map((entry, i) => {
        if (i !== index) return entry;
        return typeof entry === "string" || !isObject(entry) ? { cel } : { ...entry, cel };
      }),
    );
  return (
    <section className="builder-section" aria-labelledby="and-heading">
      <h2 id="and-heading">
        <span className="keyword">{t("builder.and.keyword")}</span> {t("builder.and.heading")}
      </h2>
      <p className="hint">{t("builder.and.hint")}</p>
      {conditions.length === 0 && <p className="hint">{t("builder.and.none")}</p>}
      <ol className="conditions">
        {conditions.map((entry, index) => {
          const legend = t("builder.and.legend", { number: index + 1 });
          return (
            <li key={index}>
              <ConditionEditor
                cel={conditionCel(entry)}
                onChange={(cel) => setCel(index, cel)}
                pointer={conditionPointer(index, entry)}
                errors={errors}
                fields={fields}
                legend={legend}
                idPrefix={`and-${index}`}
              />
              <label>
                <span>{t("builder.and.description", { number: index + 1 })}</span>
                <input
                  value={isObject(entry) ? asText(entry.description) : ""}
                  onChange={(e) =>
                    setAll(
                      conditions.map((old, i) =>
                        i === index ? { cel: conditionCel(old), ...(e.target.value ? { description: e.target.value } : {}) } : old,
                      ),
                    )
                  }
                />
              </label>
              <button type="button" onClick={() => setAll(conditions.filter((_, i) => i !== index))}>
                {t("builder.and.remove", { number: index + 1 })}
              </button>
              {/* A problem with the entry itself (not its CEL), e.g. a wrong type from YAML. */}
              {typeof entry !== "string" && <ErrorList errors={errors.at(`/and/${index}`)} />}
            </li>
          );
        })}
      </ol>
      <button type="button" onClick={() => setAll([...conditions, { cel: "" }])}>
        {t("builder.and.add")}
      </button>
      <ErrorList errors={errors.at("/and")} />
    </section>
  );
}
