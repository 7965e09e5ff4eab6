import { useTranslation } from "react-i18next";
import { Link } from "react-router";
import type { FieldDefinition } from "../api/types";
import { formatValue } from "../records/format";
import { useLanguage } from "./useLanguage";

/** A field's value as text; a to-one relation links to the record it points at. */
export function FieldValue({ field, value }: { field: FieldDefinition; value: unknown }) {
  const { t } = useTranslation();
  const language = useLanguage();
  if (field.type === "relation" && field.target && typeof value === "string" && value) {
    return (
      <Link to={`/records/${field.target}/${value}`} title={value} className="id-link">
        #{value.slice(-8)}
      </Link>
    );
  }
  return <>{formatValue(field, value, language, { yes: t("common.yes"), no: t("common.no") })}</>;
}
