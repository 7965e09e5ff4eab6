import { useTranslation } from "react-i18next";
import { withheldReasonKey, type Withheld } from "../records/fields";

/** A value the user may not see: a lock and the reason in words, never an empty cell. */
export function WithheldValue({ withheld }: { withheld: Withheld }) {
  const { t } = useTranslation();
  // The key is one of withheld.reasons.* (withheldReasonKey maps unknown reasons to "other").
  const reason = t(withheldReasonKey(withheld.reason) as "withheld.reasons.other");
  return (
    <span className="withheld" title={withheld.detail ?? undefined}>
      <svg
        className="withheld-icon"
        aria-hidden="true"
        focusable="false"
        viewBox="0 0 16 16"
        width="14"
        height="14"
      >
        <path
          fill="currentColor"
          d="M8 1a3.5 3.5 0 0 0-3.5 3.5V7H4a1 1 0 0 0-1 1v6a1 1 0 0 0 1 1h8a1 1 0 0 0 1-1V8a1 1 0 0 0-1-1h-.5V4.5A3.5 3.5 0 0 0 8 1Zm2 6H6V4.5a2 2 0 1 1 4 0V7Z"
        />
      </svg>
      <span>{t("withheld.label", { reason })}</span>
    </span>
  );
}
