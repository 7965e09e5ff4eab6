/** Small pieces the agent pages share: stored JSON shown readably (withheld values as withheld,
 * never empty), a run's status, dates and durations. */
import { useTranslation } from "react-i18next";

type Json = unknown;

function isRecord(value: Json): value is Record<string, Json> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function Withheld({ reason }: { reason: string }) {
  const { t } = useTranslation();
  return (
    <span className="withheld">
      <svg className="withheld-icon" aria-hidden="true" focusable="false" viewBox="0 0 16 16" width="14" height="14">
        <path
          fill="currentColor"
          d="M8 1a3.5 3.5 0 0 0-3.5 3.5V7H4a1 1 0 0 0-1 1v6a1 1 0 0 0 1 1h8a1 1 0 0 0 1-1V8a1 1 0 0 0-1-1h-.5V4.5A3.5 3.5 0 0 0 8 1Zm2 6H6V4.5a2 2 0 1 1 4 0V7Z"
        />
      </svg>
      <span>{t("agents.value.withheld", { reason })}</span>
    </span>
  );
}

function withheldNames(value: Record<string, Json>): { name: string; reason: string | null }[] {
  const out: { name: string; reason: string | null }[] = [];
  const meta = isRecord(value.meta) ? value.meta : null;
  const lists = [meta?.withheld, value._withheld];
  for (const list of lists) {
    if (!Array.isArray(list)) continue;
    for (const entry of list) {
      if (typeof entry === "string") out.push({ name: entry, reason: null });
      else if (isRecord(entry) && typeof entry.field === "string") {
        out.push({ name: entry.field, reason: typeof entry.reason === "string" ? entry.reason : null });
      }
    }
  }
  return out;
}

/**
 * Stored JSON (inputs, outputs, reads, tool calls) as nested definition lists. A record the
 * reader may not see (`{id, object, withheld: "…"}`) and fields left out for the reader
 * (`meta.withheld`, `_withheld`) are shown as withheld with the reason.
 */
export function ValueView({ value, depth = 0 }: { value: Json; depth?: number }) {
  const { t } = useTranslation();
  if (value === null || value === undefined) return <span className="muted">{t("agents.value.null")}</span>;
  if (typeof value === "boolean") return <span>{value ? t("common.yes") : t("common.no")}</span>;
  if (typeof value === "number" || typeof value === "string") {
    return <span className="agents-value">{String(value)}</span>;
  }
  if (Array.isArray(value)) {
    const items: unknown[] = value;
    if (items.length === 0) return <span className="muted">{t("agents.value.empty")}</span>;
    if (items.every((v): v is string | number | boolean | null => typeof v !== "object" || v === null)) {
      return <span className="agents-value">{items.map((v) => String(v)).join(", ")}</span>;
    }
    return (
      <ol className="agents-list">
        {items.map((item, index) => (
          <li key={index}>
            <ValueView value={item} depth={depth + 1} />
          </li>
        ))}
      </ol>
    );
  }
  if (!isRecord(value)) return <span>{typeof value === "bigint" ? value.toString() : ""}</span>;
  if (typeof value.withheld === "string") {
    return (
      <span>
        {typeof value.object === "string" ? `${value.object} ` : ""}
        <Withheld reason={value.withheld} />
      </span>
    );
  }
  const hidden = withheldNames(value);
  const entries = Object.entries(value).filter(([k]) => k !== "meta" && k !== "_withheld");
  if (entries.length === 0 && hidden.length === 0) {
    return <span className="muted">{t("agents.value.empty")}</span>;
  }
  return (
    <dl className={depth === 0 ? "agents-dl" : "agents-dl agents-dl-nested"}>
      {entries.map(([k, v]) => (
        <div key={k} className="agents-dl-row">
          <dt>{k}</dt>
          <dd>
            <ValueView value={v} depth={depth + 1} />
          </dd>
        </div>
      ))}
      {hidden.map((h) => (
        <div key={`withheld-${h.name}`} className="agents-dl-row">
          <dt>{h.name}</dt>
          <dd>
            <Withheld reason={h.reason ?? t("agents.value.notForYou")} />
          </dd>
        </div>
      ))}
    </dl>
  );
}

const STATUS_CLASS: Record<string, string> = {
  succeeded: "agents-status-ok",
  approved: "agents-status-ok",
  failed: "agents-status-bad",
  rejected: "agents-status-bad",
  waiting: "agents-status-wait",
  running: "agents-status-wait",
  pending: "agents-status-wait",
};

const KNOWN_STATUSES = [
  "running",
  "waiting",
  "succeeded",
  "failed",
  "pending",
  "skipped",
  "fallback",
  "compensated",
  "cancelled",
] as const;

export function StatusBadge({ status }: { status: string }) {
  const { t } = useTranslation();
  const known = (KNOWN_STATUSES as readonly string[]).includes(status);
  return (
    <span className={`agents-status ${STATUS_CLASS[status] ?? ""}`}>
      {known ? t(`agents.status.${status as (typeof KNOWN_STATUSES)[number]}`) : status}
    </span>
  );
}

export function useFormat() {
  const { i18n } = useTranslation();
  const locale = i18n.language === "zh-CN" ? "zh-CN" : "en-GB";
  return {
    dateTime: (value: string | null | undefined) =>
      value ? new Date(value).toLocaleString(locale, { dateStyle: "medium", timeStyle: "medium" }) : "",
    ms: (value: number | null | undefined) =>
      value === null || value === undefined ? "" : `${value < 10 ? value.toFixed(1) : Math.round(value).toLocaleString(locale)} ms`,
    percent: (value: number | null | undefined) =>
      value === null || value === undefined ? "" : `${(value * 100).toLocaleString(locale, { maximumFractionDigits: 1 })}%`,
  };
}

/** JSON text typed by a person: the value, or an error message key. */
export function parseJsonObject(text: string): { value: Record<string, unknown> } | { error: true } {
  try {
    const value: unknown = JSON.parse(text);
    return isRecord(value) ? { value } : { error: true };
  } catch {
    return { error: true };
  }
}
