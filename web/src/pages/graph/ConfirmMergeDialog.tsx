import { useRef } from "react";
import { useTranslation } from "react-i18next";
import { AlertDialog } from "../../components/AlertDialog";

/** "Merge these records?" — focus starts on Cancel, Escape cancels. */
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
  const cancel = useRef<HTMLButtonElement>(null);
  return (
    <AlertDialog
      title={t("graph.merge.confirmTitle")}
      message={t("graph.merge.confirmBody", { survivor, duplicate })}
      initialFocus={cancel}
      onEscape={onCancel}
    >
      <button type="button" className="button button-primary" onClick={onConfirm}>
        {t("graph.merge.confirm")}
      </button>
      <button ref={cancel} type="button" className="button button-quiet" onClick={onCancel}>
        {t("graph.merge.cancel")}
      </button>
    </AlertDialog>
  );
}
