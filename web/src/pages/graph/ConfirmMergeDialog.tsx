import { useEffect, useId, useRef, type KeyboardEvent } from "react";
import { useTranslation } from "react-i18next";

/** "Merge these records?" — a modal alert dialog; focus starts on Cancel, Escape cancels. */
export function ConfirmMergeDialog({
  survivor,
  duplicate,
  onConfirm,
  onCancel,
}: {
  survivor: string;
  duplicate: string;
  onConfirm: () => void;
  onCancel: () => void;
}) {
  const { t } = useTranslation();
  const titleId = useId();
  const bodyId = useId();
  const dialog = useRef<HTMLDivElement>(null);
  const cancel = useRef<HTMLButtonElement>(null);

  useEffect(() => {
    cancel.current?.focus();
  }, []);

  function onKeyDown(event: KeyboardEvent<HTMLDivElement>) {
    if (event.key === "Escape") {
      event.preventDefault();
      onCancel();
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
        <h2 id={titleId}>{t("graph.merge.confirmTitle")}</h2>
        <p id={bodyId}>{t("graph.merge.confirmBody", { survivor, duplicate })}</p>
        <div className="dialog-actions">
          <button type="button" className="button button-primary" onClick={onConfirm}>
            {t("graph.merge.confirm")}
          </button>
          <button ref={cancel} type="button" className="button button-quiet" onClick={onCancel}>
            {t("graph.merge.cancel")}
          </button>
        </div>
      </div>
    </div>
  );
}
