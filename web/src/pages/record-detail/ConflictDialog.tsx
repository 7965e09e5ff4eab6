import { useEffect, useId, useRef, type KeyboardEvent } from "react";
import { useTranslation } from "react-i18next";

/**
 * "Someone saved this record first" (a 412 on save). A modal alert dialog: focus starts on
 * the reload button, Tab stays inside, Escape keeps editing; the form behind it is inert.
 */
export function ConflictDialog({
  version,
  busy,
  onReload,
  onKeepEditing,
}: {
  version: number | null;
  busy: boolean;
  onReload: () => void;
  onKeepEditing: () => void;
}) {
  const { t } = useTranslation();
  const titleId = useId();
  const bodyId = useId();
  const dialog = useRef<HTMLDivElement>(null);
  const reload = useRef<HTMLButtonElement>(null);

  useEffect(() => {
    reload.current?.focus();
  }, []);

  function onKeyDown(event: KeyboardEvent<HTMLDivElement>) {
    if (event.key === "Escape") {
      event.preventDefault();
      onKeepEditing();
      return;
    }
    if (event.key !== "Tab" || !dialog.current) return;
    const buttons = Array.from(dialog.current.querySelectorAll<HTMLButtonElement>("button"));
    const first = buttons[0];
    const last = buttons[buttons.length - 1];
    if (!first || !last) return;
    if (event.shiftKey && document.activeElement === first) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && document.activeElement === last) {
      event.preventDefault();
      first.focus();
    }
  }

  return (
    <div className="dialog-backdrop">
      <div
        ref={dialog}
        className="dialog"
        role="alertdialog"
        aria-modal="true"
        aria-labelledby={titleId}
        aria-describedby={bodyId}
        onKeyDown={onKeyDown}
      >
        <h2 id={titleId}>{t("record.conflict.title")}</h2>
        <p id={bodyId}>{t("record.conflict.body", { version: version ?? "?" })}</p>
        <div className="dialog-actions">
          <button
            ref={reload}
            type="button"
            className="button button-primary"
            onClick={onReload}
            aria-disabled={busy}
          >
            {t("record.conflict.reload")}
          </button>
          <button type="button" className="button" onClick={onKeepEditing}>
            {t("record.conflict.keepEditing")}
          </button>
        </div>
      </div>
    </div>
  );
}
