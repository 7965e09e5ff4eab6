import { useRef } from "react";
import { useTranslation } from "react-i18next";
import { AlertDialog } from "../../components/AlertDialog";

/**
 * "Someone saved this record first" (a 412 on save): focus starts on the reload button,
 * Escape keeps editing; the form behind it is inert.
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
  const reload = useRef<HTMLButtonElement>(null);
  return (
    <AlertDialog
      title={t("record.conflict.title")}
      message={t("record.conflict.body", { version: version ?? "?" })}
      initialFocus={reload}
      onEscape={onKeepEditing}
    >
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
    </AlertDialog>
  );
}
