/**
 * API keys of one user: the list (secrets are never shown again), creating one — its secret
 * shown once, with a copy button and a warning — and revoking one after a confirmation.
 */
import { useQueryClient } from "@tanstack/react-query";
import { useId, useState, type SubmitEvent } from "react";
import { useTranslation } from "react-i18next";
import { governanceKeys, useApiKeys, useGovernance, type ApiKey, type ApiKeyCreated } from "../../api/governance";
import { fieldErrorsFrom, ApiProblem } from "../../api/problem";
import { ProblemMessage } from "../../components/ProblemMessage";
import { CopyButton, When } from "./GovernanceFrame";

function Secret({ created, onDone }: { created: ApiKeyCreated; onDone: () => void }) {
  const { t } = useTranslation();
  const inputId = useId();
  return (
    <div className="gov-secret" role="alert">
      <h4>{t("governance.keys.secretHeading", { name: created.name })}</h4>
      <p>{t("governance.keys.secretWarning")}</p>
      <div className="field">
        <label htmlFor={inputId}>{t("governance.keys.secret")}</label>
        <input id={inputId} readOnly value={created.key} onFocus={(event) => event.target.select()} />
      </div>
      <div className="gov-actions">
        <CopyButton text={created.key} />
        <button type="button" className="button button-primary" onClick={onDone}>
          {t("governance.keys.done")}
        </button>
      </div>
    </div>
  );
}

function KeyRow({ apiKey, onRevoked }: { apiKey: ApiKey; onRevoked: (name: string) => void }) {
  const { t } = useTranslation();
  const calls = useGovernance();
  const queryClient = useQueryClient();
  const [confirming, setConfirming] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const revoke = async () => {
    setError(null);
    try {
      await calls.revokeApiKey(apiKey.id);
      setConfirming(false);
      onRevoked(apiKey.name);
      await queryClient.invalidateQueries({ queryKey: governanceKeys.apiKeys });
    } catch (problem) {
      setError(problem);
    }
  };
  return (
    <tr>
      <td>{apiKey.name}</td>
      <td className="gov-mono">{apiKey.prefix}…</td>
      <td>
        <When iso={apiKey.created_at} />
      </td>
      <td>
        {apiKey.revoked_at ? (
          <>{t("governance.keys.revokedAt", { time: new Date(apiKey.revoked_at).toLocaleString() })}</>
        ) : (
          <>
            {t("governance.keys.valid")}{" "}
            {!confirming && (
              <button type="button" className="button button-quiet" onClick={() => setConfirming(true)}>
                {t("governance.keys.revoke", { name: apiKey.name })}
              </button>
            )}
            {confirming && (
              <div className="gov-confirm" role="group" aria-label={t("governance.keys.revoke", { name: apiKey.name })}>
                <p>{t("governance.keys.confirmRevoke", { name: apiKey.name })}</p>
                <button type="button" className="button button-primary" onClick={() => void revoke()}>
                  {t("governance.keys.confirm")}
                </button>{" "}
                <button type="button" className="button button-quiet" onClick={() => setConfirming(false)}>
                  {t("governance.keys.cancel")}
                </button>
              </div>
            )}
          </>
        )}
        {error !== null && <ProblemMessage error={error} />}
      </td>
    </tr>
  );
}

/** The keys of `userId` (yours when it is your id), with create and revoke. */
export function ApiKeys({ userId, heading, forOther }: { userId: string; heading: string; forOther: boolean }) {
  const { t } = useTranslation();
  const calls = useGovernance();
  const queryClient = useQueryClient();
  const keys = useApiKeys();
  const nameId = useId();
  const errorId = useId();
  const headingId = useId();
  const [name, setName] = useState("");
  const [creating, setCreating] = useState(false);
  const [created, setCreated] = useState<ApiKeyCreated | null>(null);
  const [nameError, setNameError] = useState<string[]>([]);
  const [failure, setFailure] = useState<unknown>(null);
  const [revoked, setRevoked] = useState<string | null>(null);
  const mine = (keys.data ?? []).filter((key) => key.user_id === userId);

  const submit = async (event: SubmitEvent<HTMLFormElement>) => {
    event.preventDefault();
    setCreating(true);
    setNameError([]);
    setFailure(null);
    setRevoked(null);
    try {
      setCreated(await calls.createApiKey(name, forOther ? userId : null));
      setName("");
      await queryClient.invalidateQueries({ queryKey: governanceKeys.apiKeys });
    } catch (problem) {
      const placed = problem instanceof ApiProblem ? fieldErrorsFrom(problem, ["name"]) : null;
      if (placed?.byField.name) setNameError(placed.byField.name);
      else setFailure(problem);
    } finally {
      setCreating(false);
    }
  };

  return (
    <section className="gov-panel" aria-labelledby={headingId}>
      <h3 id={headingId}>{heading}</h3>
      {keys.error && <ProblemMessage error={keys.error} />}
      {keys.data && mine.length === 0 && <p>{t("governance.keys.none")}</p>}
      {mine.length > 0 && (
        <div className="table-wrap">
          <table>
            <caption className="gov-visually-hidden">{heading}</caption>
            <thead>
              <tr>
                <th scope="col">{t("governance.keys.name")}</th>
                <th scope="col">{t("governance.keys.prefix")}</th>
                <th scope="col">{t("governance.keys.created")}</th>
                <th scope="col">{t("governance.keys.state")}</th>
              </tr>
            </thead>
            <tbody>
              {mine.map((key) => (
                <KeyRow key={key.id} apiKey={key} onRevoked={setRevoked} />
              ))}
            </tbody>
          </table>
        </div>
      )}
      {revoked && (
        <p className="notice" role="status">
          {t("governance.keys.revoked", { name: revoked })}
        </p>
      )}
      {created && <Secret created={created} onDone={() => setCreated(null)} />}
      <form onSubmit={(event) => void submit(event)} noValidate>
        <div className="field">
          <label htmlFor={nameId}>{t("governance.keys.newKey")}</label>
          <input
            id={nameId}
            value={name}
            aria-invalid={nameError.length ? true : undefined}
            aria-describedby={nameError.length ? errorId : undefined}
            onChange={(event) => setName(event.target.value)}
          />
          {nameError.length > 0 && (
            <p id={errorId} className="field-error">
              {nameError.join(" ")}
            </p>
          )}
        </div>
        <button type="submit" className="button" disabled={creating}>
          {t("governance.keys.create")}
        </button>
      </form>
      {failure !== null && <ProblemMessage error={failure} />}
    </section>
  );
}
