/** Pieces the operations pages share: status text, period picker, latency, confirmations. */
import { useId, useState, type ReactNode } from "react";
import { useTranslation } from "react-i18next";
import { useSearchParams } from "react-router";
import { isPeriod, PERIODS, type Period } from "../../api/operations";
import { latencyParts, withheldReason } from "../../operations/format";
import "../../styles/operations.css";

const STATUS_KEYS = {
  running: "operations.status.running",
  waiting: "operations.status.waiting",
  succeeded: "operations.status.succeeded",
  failed: "operations.status.failed",
  pending: "operations.status.pending",
  retrying: "operations.status.retrying",
  skipped: "operations.status.skipped",
  branch: "operations.status.branch",
  failed_handled: "operations.status.failed_handled",
  open: "operations.status.open",
  replayed: "operations.status.replayed",
  discarded: "operations.status.discarded",
  any: "operations.status.any",
} as const;

export type KnownStatus = keyof typeof STATUS_KEYS;

export function useStatusLabel(): (status: string) => string {
  const { t } = useTranslation();
  return (status) => {
    const key = STATUS_KEYS[status as KnownStatus] as (typeof STATUS_KEYS)[KnownStatus] | undefined;
    return key ? t(key) : status;
  };
}

/** A run's, step's or dead letter's status, in words (colour is never the only sign). */
export function StatusText({ status }: { status: string }) {
  const label = useStatusLabel();
  return <span className={`ops-status ops-status-${status}`}>{label(status)}</span>;
}

/** "850 ms", "1.25 s", or "—". */
export function Latency({ ms }: { ms: number | null | undefined }) {
  const { t } = useTranslation();
  const parts = latencyParts(ms);
  if (parts === null) return <>{t("operations.value.none")}</>;
  return <>{t(parts.unit === "ms" ? "operations.value.ms" : "operations.value.seconds", { value: parts.value })}</>;
}

/** The chosen period, kept in the URL (`?period=week`), a week by default. */
export function usePeriod(): [Period, (period: Period) => void] {
  const [params, setParams] = useSearchParams();
  const raw = params.get("period");
  const period: Period = isPeriod(raw) ? raw : "week";
  const set = (next: Period) =>
    setParams(
      (current) => {
        const copy = new URLSearchParams(current);
        copy.set("period", next);
        return copy;
      },
      { replace: true },
    );
  return [period, set];
}

export function PeriodPicker({ period, onChange }: { period: Period; onChange: (p: Period) => void }) {
  const { t } = useTranslation();
  const id = useId();
  return (
    <div className="field field-inline">
      <label htmlFor={id}>{t("operations.period")}</label>
      <select id={id} value={period} onChange={(event) => isPeriod(event.target.value) && onChange(event.target.value)}>
        {(Object.keys(PERIODS) as Period[]).map((p) => (
          <option key={p} value={p}>
            {t(`operations.periods.${p}`)}
          </option>
        ))}
      </select>
    </div>
  );
}

/** Stored JSON for reading; a value the reader may not see says so, with the reason. */
export function JsonBlock({ value, label }: { value: unknown; label: string }) {
  const { t } = useTranslation();
  const reason = withheldReason(value);
  if (reason !== null) {
    return <p className="withheld">{t("operations.run.withheld", { reason })}</p>;
  }
  if (value === null || value === undefined) return <p className="muted">{t("operations.run.nothing")}</p>;
  return (
    <pre className="ops-json" tabIndex={0} aria-label={label}>
      {JSON.stringify(value, null, 2)}
    </pre>
  );
}

/**
 * A button that asks before it acts: the question and "Yes, do it" / "Cancel" appear in
 * place (an alertdialog region, focus moved to it); the answer is the caller's to show.
 */
export function ConfirmButton({
  label,
  question,
  onConfirm,
  disabled = false,
  busy = false,
  className = "button",
}: {
  label: string;
  question: string;
  onConfirm: () => void;
  disabled?: boolean;
  busy?: boolean;
  className?: string;
}) {
  const { t } = useTranslation();
  const [asking, setAsking] = useState(false);
  const questionId = useId();
  if (!asking) {
    return (
      <button
        type="button"
        className={className}
        disabled={disabled}
        aria-disabled={busy || undefined}
        onClick={() => !busy && setAsking(true)}
      >
        {busy ? t("operations.dead.working") : label}
      </button>
    );
  }
  return (
    <div role="alertdialog" aria-labelledby={questionId} className="ops-confirm">
      <p id={questionId}>{question}</p>
      <button
        type="button"
        className="button button-primary"
        // The question replaces the button: focus follows it.
        autoFocus
        onClick={() => {
          setAsking(false);
          onConfirm();
        }}
      >
        {t("operations.dead.confirm")}
      </button>
      <button type="button" className="button button-quiet" onClick={() => setAsking(false)}>
        {t("operations.dead.cancel")}
      </button>
    </div>
  );
}

export function Section({ title, children, id }: { title: string; children: ReactNode; id?: string }) {
  const headingId = useId();
  return (
    <section aria-labelledby={headingId} className="ops-section" id={id}>
      <h2 id={headingId}>{title}</h2>
      {children}
    </section>
  );
}
