import { useTranslation } from "react-i18next";
import type { ProblemFieldError } from "../../api/problem";

/** Problem codes the console names in the user's language (the server's message follows), and
 * their keys in the catalog (`too_many` would read as a plural suffix there). */
const CODE_KEYS = {
  required: "required",
  missing: "missing",
  invalid_cel: "invalid_cel",
  unknown_action: "unknown_action",
  unknown_param: "unknown_param",
  unknown_event_type: "unknown_event_type",
  type: "type",
  choice: "choice",
  duplicate: "duplicate",
  shape: "shape",
  template: "template",
  duration: "duration",
  reserved: "reserved",
  unavailable: "unavailable",
  too_many: "limit",
  string_pattern_mismatch: "string_pattern_mismatch",
  extra_forbidden: "extra_forbidden",
  string_too_short: "string_too_short",
  too_short: "too_short",
} as const;

type KnownCode = keyof typeof CODE_KEYS;

function isKnown(code: string): code is KnownCode {
  return Object.hasOwn(CODE_KEYS, code);
}

/** Problems of one part of the definition, said next to it: what kind of problem (in the
 * user's language), then the server's own words. */
export function ErrorList({ errors, id }: { errors: readonly ProblemFieldError[]; id?: string }) {
  const { t } = useTranslation();
  if (errors.length === 0) return null;
  return (
    <ul className="field-errors" id={id}>
      {errors.map((error, index) => (
        <li key={`${error.path}-${index}`}>
          <strong>{isKnown(error.code) ? t(`builder.codes.${CODE_KEYS[error.code]}`) : t("builder.problem")}:</strong>{" "}
          {error.message}
        </li>
      ))}
    </ul>
  );
}
