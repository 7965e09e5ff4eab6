import { useState, type SubmitEvent } from "react";
import { useTranslation } from "react-i18next";
import { Navigate, useLocation, useNavigate } from "react-router";
import { ApiProblem, NETWORK_ERROR } from "../../api/problem";
import { LanguageSwitch } from "../../components/LanguageSwitch";
import { useDocumentTitle } from "../../components/useDocumentTitle";
import { homePath } from "../../nav/navigation";
import { useSessionActions, useSessionState } from "../../session/SessionContext";

/** Where to return after signing in: only a path inside the console, never another site. */
export function returnPath(state: unknown): string | null {
  const from = (state as { from?: unknown } | null)?.from;
  if (typeof from !== "string" || !from.startsWith("/") || from.startsWith("//")) return null;
  if (from.startsWith("/sign-in")) return null;
  return from;
}

export default function SignInPage() {
  const { t } = useTranslation();
  const { session, ended } = useSessionState();
  const { signIn } = useSessionActions();
  const navigate = useNavigate();
  const location = useLocation();
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<unknown>(null);
  useDocumentTitle(t("signIn.title"));

  if (session !== null && !pending) {
    return <Navigate to={returnPath(location.state) ?? homePath(session.me)} replace />;
  }

  async function submit(event: SubmitEvent<HTMLFormElement>) {
    event.preventDefault();
    if (pending) return;
    setPending(true);
    setError(null);
    try {
      const me = await signIn(email, password);
      setPassword("");
      void navigate(returnPath(location.state) ?? homePath(me), { replace: true });
    } catch (problem) {
      setError(problem);
    } finally {
      setPending(false);
    }
  }

  return (
    <div className="sign-in">
      <header className="shell-header">
        <p className="brand">{t("app.name")}</p>
        <LanguageSwitch />
      </header>
      <main id="main" className="sign-in-main">
        <h1>{t("signIn.heading")}</h1>
        {ended !== null && error === null && (
          <p className="notice" role="status">
            {ended === "expired" ? t("signIn.expired") : t("signIn.signedOut")}
          </p>
        )}
        <form className="sign-in-form" onSubmit={(event) => void submit(event)}>
          <div className="field">
            <label htmlFor="sign-in-email">{t("signIn.email")}</label>
            <input
              id="sign-in-email"
              name="username"
              type="email"
              autoComplete="username"
              required
              value={email}
              onChange={(event) => setEmail(event.target.value)}
              aria-describedby={error ? "sign-in-error" : undefined}
            />
          </div>
          <div className="field">
            <label htmlFor="sign-in-password">{t("signIn.password")}</label>
            <input
              id="sign-in-password"
              name="password"
              type="password"
              autoComplete="current-password"
              required
              value={password}
              onChange={(event) => setPassword(event.target.value)}
              aria-describedby={error ? "sign-in-error" : undefined}
            />
          </div>
          {error !== null && <SignInError error={error} />}
          <button type="submit" className="button button-primary" aria-disabled={pending}>
            {t("signIn.submit")}
          </button>
          {pending && (
            <p role="status" className="muted">
              {t("signIn.submitting")}
            </p>
          )}
        </form>
        <p className="muted">{t("signIn.memoryOnly")}</p>
      </main>
    </div>
  );
}

function SignInError({ error }: { error: unknown }) {
  const { t } = useTranslation();
  let message: string;
  if (error instanceof ApiProblem && error.status === 429) {
    message = t("signIn.tooMany", { seconds: error.retryAfter ?? 60 });
  } else if (error instanceof ApiProblem && error.type === NETWORK_ERROR) {
    message = t("errors.network");
  } else if (error instanceof ApiProblem) {
    message = t("signIn.failed", { detail: error.detail || error.title });
  } else {
    message = t("errors.heading");
  }
  return (
    <p id="sign-in-error" className="problem" role="alert">
      {message}
    </p>
  );
}
