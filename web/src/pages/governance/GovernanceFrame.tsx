/**
 * The frame of every governance page: its <h1> and title, the area's own navigation (only the
 * views this user may open), and — when the user may not open this view — "not allowed"
 * instead of the page (the server refuses the data anyway).
 */
import { useState, type ReactNode } from "react";
import { useTranslation } from "react-i18next";
import { Link } from "react-router";
import { useDocumentTitle } from "../../components/useDocumentTitle";
import { mayOpen, openSections, SECTIONS, type Section } from "../../governance/access";
import { useMe } from "../../session/SessionContext";
import "../../styles/governance.css";

export function GovernanceFrame({
  section,
  title,
  children,
}: {
  section: Section;
  title: string;
  children: ReactNode;
}) {
  const { t } = useTranslation();
  const me = useMe();
  const allowed = mayOpen(me, section);
  useDocumentTitle(allowed ? title : t("governance.heading"));
  if (!allowed) {
    return (
      <>
        <h1>{t("governance.heading")}</h1>
        <p className="problem" role="alert">
          {t("governance.notAllowed")}
        </p>
      </>
    );
  }
  const open = openSections(me);
  return (
    <>
      <h1>{title}</h1>
      <nav className="gov-nav" aria-label={t("governance.nav.label")}>
        <ul>
          {SECTIONS.filter((s) => open.includes(s.section)).map((s) => (
            <li key={s.section}>
              <Link to={s.to} aria-current={s.section === section ? "page" : undefined}>
                {t(`governance.nav.${s.section}`)}
              </Link>
            </li>
          ))}
        </ul>
      </nav>
      {children}
    </>
  );
}

/** A button copying `text` to the clipboard, saying whether it worked. */
export function CopyButton({ text, label }: { text: string; label?: string }) {
  const { t } = useTranslation();
  const [outcome, setOutcome] = useState<"copied" | "failed" | null>(null);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setOutcome("copied");
    } catch {
      setOutcome("failed");
    }
  };
  return (
    <span className="gov-copy">
      <button type="button" className="button" onClick={() => void copy()} aria-label={label}>
        {t("governance.copy")}
      </button>
      <span role="status">
        {outcome === "copied" ? t("governance.copied") : outcome === "failed" ? t("governance.copyFailed") : ""}
      </span>
    </span>
  );
}

/** A date-time in the UI language. */
export function When({ iso }: { iso: string }) {
  const { i18n } = useTranslation();
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return <>{iso}</>;
  return (
    <time dateTime={iso}>
      {date.toLocaleString(i18n.language, { dateStyle: "medium", timeStyle: "medium" })}
    </time>
  );
}
