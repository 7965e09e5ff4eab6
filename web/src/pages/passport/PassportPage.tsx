/**
 * /passport — where a customer's emailed sign-in link leads (`/passport?token=…`). For
 * customers, not staff: no staff session is needed or used (routes.tsx keeps it outside the
 * staff sign-in gate). The page takes the token out of the address at once (a replaced history
 * entry: the link works once and must not stay in the history or a bookmark), signs in with it
 * (POST /api/v1/passport/session), and shows who is signed in and the data held about them
 * (GET /api/v1/passport/data). The passport session lives in this page's memory only. An
 * expired, used or unknown link is said so, with a form to ask for a new one.
 *
 * The full customer portal (consents, access log, export, erasure) is issue #20's; this page
 * is its first step.
 */
import { useEffect, useMemo, useRef, useState, type SubmitEvent } from "react";
import { useTranslation } from "react-i18next";
import { useLocation, useNavigate } from "react-router";
import { ApiProblem, NETWORK_ERROR } from "../../api/problem";
import { LanguageSwitch } from "../../components/LanguageSwitch";
import { useDocumentTitle } from "../../components/useDocumentTitle";
import { useLanguage } from "../../components/useLanguage";
import { formatTimestamp } from "../../records/format";
import {
  askForLink,
  createPassportClient,
  signInWithLink,
  type PassportData,
  type PassportDimension,
  type SignedIn,
} from "./passportApi";

type State =
  | { step: "no-token" }
  | { step: "signing-in" }
  | { step: "signed-in"; signed: SignedIn }
  | { step: "failed"; error: unknown }
  | { step: "signed-out" };

export default function PassportPage() {
  const { t } = useTranslation();
  const location = useLocation();
  const navigate = useNavigate();
  const client = useMemo(() => createPassportClient(), []);
  // Read once: the address loses the token right below.
  const [token] = useState(() => new URLSearchParams(location.search).get("token"));
  const [state, setState] = useState<State>(() =>
    token ? { step: "signing-in" } : { step: "no-token" },
  );
  // One sign-in per link, even when effects run twice (React's strict mode): a second
  // attempt would find the link used.
  const attempt = useRef<Promise<SignedIn> | null>(null);
  useDocumentTitle(t("passport.title"));

  useEffect(() => {
    const params = new URLSearchParams(location.search);
    if (!params.has("token")) return;
    params.delete("token");
    const search = params.toString();
    // history.replaceState through the router: the token leaves the address bar and the history.
    void navigate(
      { pathname: location.pathname, search: search ? `?${search}` : "", hash: location.hash },
      { replace: true },
    );
  }, [location, navigate]);

  useEffect(() => {
    if (!token) return;
    attempt.current ??= signInWithLink(client, token);
    let current = true;
    attempt.current.then(
      (signed) => {
        if (current) setState({ step: "signed-in", signed });
      },
      (error: unknown) => {
        if (current) setState({ step: "failed", error });
      },
    );
    return () => {
      current = false;
    };
  }, [client, token]);

  return (
    <div className="sign-in">
      <header className="shell-header">
        <p className="brand">{t("app.name")}</p>
        <LanguageSwitch />
      </header>
      <main id="main" className="sign-in-main">
        <h1>{t("passport.heading")}</h1>
        {state.step === "signing-in" && (
          <p role="status" className="loading-bar">
            {t("passport.signingIn")}
          </p>
        )}
        {state.step === "signed-in" && (
          <Passport signed={state.signed} onSignOut={() => setState({ step: "signed-out" })} />
        )}
        {state.step === "failed" && <SignInFailure error={state.error} />}
        {state.step === "no-token" && <p>{t("passport.noToken")}</p>}
        {state.step === "signed-out" && (
          <p role="status" className="notice">
            {t("passport.signedOut")}
          </p>
        )}
        {state.step !== "signing-in" && state.step !== "signed-in" && (
          <AskForLink ask={(email) => askForLink(client, email)} />
        )}
      </main>
    </div>
  );
}

function held(data: PassportData, field: string): string | null {
  const found = data.dimensions.find(
    (d) => d.dimension === `${data.subject.object}.${field}` && d.held,
  );
  return typeof found?.value === "string" && found.value.trim() ? found.value : null;
}

/** The customer's name as held (name, or first and last name), else their DID. */
function displayName(data: PassportData, join: (first: string, last: string) => string): string {
  const name = held(data, "name");
  if (name) return name;
  const first = held(data, "first_name");
  const last = held(data, "last_name");
  if (first && last) return join(first, last);
  return first ?? last ?? data.did;
}

function Passport({ signed, onSignOut }: { signed: SignedIn; onSignOut: () => void }) {
  const { t } = useTranslation();
  const { session, data } = signed;
  return (
    <>
      <p className="notice" role="status">
        {t("passport.signedInAs", {
          name: displayName(data, (first, last) => t("passport.name", { first, last })),
        })}
      </p>
      <dl>
        <dt>{t("passport.did")}</dt>
        <dd>
          <code>{data.did}</code>
        </dd>
      </dl>
      <p className="muted">
        {t("passport.session", { minutes: Math.round(session.expires_in / 60) })}
      </p>
      <button type="button" className="button" onClick={onSignOut}>
        {t("passport.signOut")}
      </button>
      {data.dimensions.length === 0 ? (
        <p>{t("passport.nothingHeld")}</p>
      ) : (
        <div className="table-wrap">
          <table>
            <caption>{t("passport.dataCaption")}</caption>
            <thead>
              <tr>
                <th scope="col">{t("passport.colData")}</th>
                <th scope="col">{t("passport.colValue")}</th>
                <th scope="col">{t("passport.colDomain")}</th>
                <th scope="col">{t("passport.colConsents")}</th>
                <th scope="col">{t("passport.colLastRead")}</th>
              </tr>
            </thead>
            <tbody>
              {data.dimensions.map((dimension) => (
                <DimensionRow key={dimension.dimension} dimension={dimension} />
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}

function valueText(value: unknown, none: string): string {
  if (value === null || value === undefined || value === "") return none;
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return JSON.stringify(value);
}

function DimensionRow({ dimension }: { dimension: PassportDimension }) {
  const { t } = useTranslation();
  const language = useLanguage();
  const latest = dimension.accesses[0];
  return (
    <tr>
      <th scope="row">{dimension.label ?? dimension.dimension}</th>
      <td>{valueText(dimension.held ? dimension.value : null, t("common.none"))}</td>
      <td>{dimension.domain}</td>
      <td>
        {dimension.consents.length
          ? t("passport.consents", { count: dimension.consents.length })
          : t("passport.noConsents")}
      </td>
      <td>
        {latest
          ? t("passport.lastRead", {
              when: formatTimestamp(latest.at, language),
              who: latest.accessor,
            })
          : t("passport.notRead")}
      </td>
    </tr>
  );
}

function SignInFailure({ error }: { error: unknown }) {
  const { t } = useTranslation();
  let message: string;
  const reason = error instanceof ApiProblem ? error.body.reason : undefined;
  if (error instanceof ApiProblem && error.status === 401 && reason === "expired") {
    message = t("passport.errors.expired");
  } else if (error instanceof ApiProblem && error.status === 401 && reason === "replayed") {
    message = t("passport.errors.used");
  } else if (error instanceof ApiProblem && error.status === 401 && reason === "unknown") {
    message = t("passport.errors.unknown");
  } else if (error instanceof ApiProblem && error.status === 429) {
    message = t("passport.errors.tooMany", { seconds: error.retryAfter ?? 60 });
  } else if (error instanceof ApiProblem && error.type === NETWORK_ERROR) {
    message = t("errors.network");
  } else if (error instanceof ApiProblem) {
    message = t("passport.errors.failed", { detail: error.detail || error.title });
  } else {
    message = t("errors.heading");
  }
  return (
    <p className="problem" role="alert">
      {message}
    </p>
  );
}

function AskForLink({ ask }: { ask: (email: string) => Promise<void> }) {
  const { t } = useTranslation();
  const [email, setEmail] = useState("");
  const [pending, setPending] = useState(false);
  const [outcome, setOutcome] = useState<{ sent: true } | { error: unknown } | null>(null);

  async function submit(event: SubmitEvent<HTMLFormElement>) {
    event.preventDefault();
    if (pending) return;
    setPending(true);
    setOutcome(null);
    try {
      await ask(email);
      setOutcome({ sent: true });
    } catch (error) {
      setOutcome({ error });
    } finally {
      setPending(false);
    }
  }

  const error = outcome && "error" in outcome ? outcome.error : null;
  return (
    <form className="sign-in-form" onSubmit={(event) => void submit(event)}>
      <h2>{t("passport.ask.heading")}</h2>
      <div className="field">
        <label htmlFor="passport-email">{t("passport.ask.email")}</label>
        <input
          id="passport-email"
          name="email"
          type="email"
          autoComplete="email"
          required
          value={email}
          onChange={(event) => setEmail(event.target.value)}
        />
      </div>
      <button type="submit" className="button button-primary" aria-disabled={pending}>
        {t("passport.ask.submit")}
      </button>
      {pending && (
        <p role="status" className="muted">
          {t("passport.ask.sending")}
        </p>
      )}
      {outcome && "sent" in outcome && (
        <p role="status" className="notice">
          {t("passport.ask.sent")}
        </p>
      )}
      {error !== null && (
        <p className="problem" role="alert">
          {error instanceof ApiProblem && error.status === 429
            ? t("passport.errors.tooMany", { seconds: error.retryAfter ?? 60 })
            : error instanceof ApiProblem && error.type === NETWORK_ERROR
              ? t("errors.network")
              : t("passport.ask.failed", {
                  detail: error instanceof ApiProblem ? error.detail || error.title : t("errors.heading"),
                })}
        </p>
      )}
    </form>
  );
}
