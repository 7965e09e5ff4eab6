import { useId } from "react";
import { useTranslation } from "react-i18next";
import { useChoosePurpose, usePurpose, usePurposes } from "../api/workspace";

/** The purpose names the catalog translates; others show as the API names them. */
const KNOWN = ["service", "sales", "marketing", "analytics", "model-training", "llm-processing", "bulk-export"] as const;

export function usePurposeLabel(): (name: string) => string {
  const { t } = useTranslation();
  return (name) =>
    (KNOWN as readonly string[]).includes(name)
      ? t(`workspace.purpose.names.${name as (typeof KNOWN)[number]}`)
      : name;
}

/**
 * Declares why the user reads customer data (`X-Purpose`): values withheld for "no purpose
 * declared" can then be shown where the customer consented to that purpose. The choice holds
 * for the session (in memory) and every cached read is refetched with it.
 */
export function PurposePicker() {
  const { t } = useTranslation();
  const id = useId();
  const purposes = usePurposes();
  const current = usePurpose();
  const choose = useChoosePurpose();
  const label = usePurposeLabel();
  return (
    <div className="purpose-picker field field-inline">
      <label htmlFor={id}>{t("workspace.purpose.label")}</label>
      <select
        id={id}
        value={current ?? ""}
        aria-describedby={`${id}-hint`}
        onChange={(event) => choose(event.target.value || null)}
      >
        <option value="">{t("workspace.purpose.none")}</option>
        {(purposes.data ?? []).map((p) => (
          <option key={p.name} value={p.name}>
            {label(p.name)}
          </option>
        ))}
        {current && !purposes.data?.some((p) => p.name === current) && (
          <option value={current}>{label(current)}</option>
        )}
      </select>
      <p id={`${id}-hint`} className="hint">
        {t("workspace.purpose.hint")}
      </p>
    </div>
  );
}
