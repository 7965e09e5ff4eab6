import { useTranslation } from "react-i18next";
import { ApiProblem, NETWORK_ERROR } from "../api/problem";

/** An error from the API (or anything thrown), said where it happened, as an alert. */
export function ProblemMessage({ error, id }: { error: unknown; id?: string }) {
  const { t } = useTranslation();
  if (!(error instanceof ApiProblem)) {
    return (
      <div className="problem" role="alert" id={id}>
        <p className="problem-title">{t("errors.heading")}</p>
        {error instanceof Error && <p>{error.message}</p>}
      </div>
    );
  }
  if (error.type === NETWORK_ERROR) {
    return (
      <div className="problem" role="alert" id={id}>
        <p>{t("errors.network")}</p>
      </div>
    );
  }
  return (
    <div className="problem" role="alert" id={id}>
      <p className="problem-title">
        {error.title}
        {error.status ? ` (${error.status})` : ""}
      </p>
      {error.detail && <p>{error.detail}</p>}
      {error.errors.length > 0 && (
        <ul>
          {error.errors.map((e, index) => (
            <li key={`${e.path}-${index}`}>
              {e.path ? <code>{e.path}</code> : null} {e.message}
            </li>
          ))}
        </ul>
      )}
      {error.requestId && <p className="muted">{t("errors.requestId", { id: error.requestId })}</p>}
    </div>
  );
}
