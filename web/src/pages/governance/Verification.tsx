/**
 * Verifying proof bundles in the browser (governance/verifier.ts): the outcome of each check,
 * and the form that checks a bundle file the user chooses (nothing is sent anywhere).
 */
import { useId, useState, type SubmitEvent } from "react";
import { useTranslation } from "react-i18next";
import {
  CHECKS,
  checkStates,
  VerificationFailure,
  verifyBundle,
  type Verified,
} from "../../governance/verifier";

export type Outcome =
  | { kind: "verified"; verified: Verified; keyGiven: boolean; name: string }
  | { kind: "failed"; failure: VerificationFailure; name: string }
  | { kind: "unreadable"; detail: string; name: string };

/** Verify parsed JSON; `key`: a verifier key held out of band (blank: the bundle's own). */
export function verifyParsed(value: unknown, key: string, name: string): Outcome {
  const given = key.trim() !== "";
  try {
    return { kind: "verified", verified: verifyBundle(value, given ? key.trim() : undefined), keyGiven: given, name };
  } catch (error) {
    if (error instanceof VerificationFailure) return { kind: "failed", failure: error, name };
    throw error;
  }
}

export function verifyText(text: string, key: string, name: string): Outcome {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return { kind: "unreadable", detail: error instanceof Error ? error.message : String(error), name };
  }
  return verifyParsed(parsed, key, name);
}

export function VerificationResult({ outcome, heading }: { outcome: Outcome; heading: string }) {
  const { t } = useTranslation();
  const headingId = useId();
  if (outcome.kind === "unreadable") {
    return (
      <section className="gov-panel gov-result-bad" aria-labelledby={headingId} role="status">
        <h3 id={headingId}>{heading}</h3>
        <p>{t("governance.verify.unreadable", { detail: outcome.detail })}</p>
      </section>
    );
  }
  const failure = outcome.kind === "failed" ? outcome.failure : null;
  const states = checkStates(failure);
  return (
    <section
      className={`gov-panel ${failure ? "gov-result-bad" : "gov-result-ok"}`}
      aria-labelledby={headingId}
      role="status"
    >
      <h3 id={headingId}>{heading}</h3>
      {outcome.kind === "verified" ? (
        <>
          <p className="gov-figure-value">{t("governance.verify.verified")}</p>
          <p>
            {t("governance.verify.verifiedDetail", {
              index: String(outcome.verified.leaf.i),
              kind: String(outcome.verified.leaf.k),
              size: outcome.verified.checkpoint.size,
              key: outcome.verified.key.name,
            })}{" "}
            {outcome.keyGiven ? t("governance.verify.keyGiven") : t("governance.verify.keyFromBundle")}
          </p>
        </>
      ) : (
        failure && (
          <>
            <p className="gov-figure-value">{t("governance.verify.failed")}</p>
            <p>
              {t("governance.verify.failedCheck", {
                check: t(`governance.verify.checks.${failure.check}`),
                reason: t(`governance.verify.reasons.${failure.reason}`, {
                  bundle: failure.values.bundle ?? "",
                  checkpoint: failure.values.checkpoint ?? "",
                  detail: failure.message,
                }),
              })}
            </p>
          </>
        )
      )}
      <ul className="gov-checks">
        {CHECKS.map((check) => (
          <li key={check} className={`gov-check-${states[check]}`}>
            {t(`governance.verify.checks.${check}`)}: {t(`governance.verify.states.${states[check]}`)}
          </li>
        ))}
      </ul>
    </section>
  );
}

/** Choose a bundle file (and optionally a verifier key) and verify it here. */
export function VerifyFile() {
  const { t } = useTranslation();
  const fileId = useId();
  const keyId = useId();
  const hintId = useId();
  const [file, setFile] = useState<File | null>(null);
  const [key, setKey] = useState("");
  const [outcome, setOutcome] = useState<Outcome | null>(null);

  const submit = async (event: SubmitEvent<HTMLFormElement>) => {
    event.preventDefault();
    if (file === null) return;
    setOutcome(verifyText(await file.text(), key, file.name));
  };

  return (
    <section className="gov-panel" aria-labelledby={`${fileId}-heading`}>
      <h2 id={`${fileId}-heading`}>{t("governance.verify.heading")}</h2>
      <p className="gov-figure-explain">{t("governance.verify.explain")}</p>
      <form onSubmit={(event) => void submit(event)}>
        <div className="field">
          <label htmlFor={fileId}>{t("governance.verify.file")}</label>
          <input
            id={fileId}
            type="file"
            accept="application/json,.json"
            onChange={(event) => {
              setFile(event.target.files?.[0] ?? null);
              setOutcome(null);
            }}
          />
        </div>
        <div className="field">
          <label htmlFor={keyId}>{t("governance.verify.key")}</label>
          <input
            id={keyId}
            className="gov-mono"
            value={key}
            aria-describedby={hintId}
            onChange={(event) => setKey(event.target.value)}
          />
          <span id={hintId} className="hint">
            {t("governance.verify.keyHint")}
          </span>
        </div>
        <button type="submit" className="button button-primary" disabled={file === null}>
          {t("governance.verify.run")}
        </button>
      </form>
      {outcome && (
        <VerificationResult outcome={outcome} heading={t("governance.verify.resultFile", { file: outcome.name })} />
      )}
    </section>
  );
}
