/** Display text of a field value (lists, enums, dates, numbers) in the UI language. */
import type { FieldDefinition } from "../api/types";
import type { Language } from "../i18n";
import { optionLabel } from "./fields";
import { asText } from "./text";

export interface Words {
  yes: string;
  no: string;
}

export const EMPTY = "—";

function number(value: unknown, language: Language, options?: Intl.NumberFormatOptions): string {
  const n = typeof value === "number" ? value : Number(value);
  return Number.isFinite(n) ? new Intl.NumberFormat(language, options).format(n) : asText(value);
}

export function formatValue(
  field: FieldDefinition,
  value: unknown,
  language: Language,
  words: Words,
): string {
  if (value === null || value === undefined || value === "") return EMPTY;
  switch (field.type) {
    case "boolean":
      return value === true ? words.yes : words.no;
    case "enum":
      return optionLabel(field, asText(value), language);
    case "multi_enum":
      return Array.isArray(value) && value.length > 0
        ? value.map((v) => optionLabel(field, asText(v), language)).join(", ")
        : EMPTY;
    case "number":
      return number(value, language);
    case "money":
      return number(value, language, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
    case "percent":
      return `${number(value, language)}%`;
    case "datetime": {
      const at = new Date(asText(value));
      return Number.isNaN(at.getTime())
        ? asText(value)
        : new Intl.DateTimeFormat(language, { dateStyle: "medium", timeStyle: "short" }).format(at);
    }
    case "json":
      return JSON.stringify(value);
    case "relation":
      return Array.isArray(value) ? value.map(asText).join(", ") : asText(value);
    default:
      return Array.isArray(value) ? value.map(asText).join(", ") : asText(value);
  }
}

export function formatTimestamp(iso: string | null, language: Language): string {
  if (!iso) return EMPTY;
  const at = new Date(iso);
  return Number.isNaN(at.getTime())
    ? iso
    : new Intl.DateTimeFormat(language, { dateStyle: "medium", timeStyle: "short" }).format(at);
}
