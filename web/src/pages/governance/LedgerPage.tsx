/**
 * /governance/ledger: the evidence ledger explorer. Entries by index (paged; `?after=`), one
 * entry's leaf and payload as the reader may see it (`?entry=`), its proof bundle downloaded
 * as one JSON file and verified right here, the signed checkpoints and the verifier key, and
 * a form that verifies any bundle file.
 */
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { useSearchParams } from "react-router";
import {
  useCheckpoints,
  useGovernance,
  useLedgerEntries,
  useLedgerEntry,
  useLedgerKeys,
  useSignCheckpoint,
  type LedgerEntryDetail,
} from "../../api/governance";
import { ProblemMessage } from "../../components/ProblemMessage";
import { CopyButton, GovernanceFrame, When } from "./GovernanceFrame";
import { verifyParsed, VerificationResult, VerifyFile, type Outcome } from "./Verification";

const PAGE = 25;

function short(hash: string): string {
  return hash.length > 16 ? `${hash.slice(0, 16)}…` : hash;
}

/** Save `value` as a JSON file through the browser's download. */
function saveJson(value: unknown, file: string): void {
  if (typeof URL.createObjectURL !== "function") return; // not in tests
  const url = URL.createObjectURL(new Blob([JSON.stringify(value, null, 2)], { type: "application/json" }));
  const link = document.createElement("a");
  link.href = url;
  link.download = file;
  document.body.append(link);
  link.click();
  link.remove();
  URL.revokeObjectURL(url);
}

function EntryDetail({ entry }: { entry: LedgerEntryDetail }) {
  const { t } = useTranslation();
  const calls = useGovernance();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [outcome, setOutcome] = useState<Outcome | null>(null);
  const [saved, setSaved] = useState<string | null>(null);

  const download = async () => {
    setBusy(true);
    setError(null);
    setOutcome(null);
    try {
      const bundle = await calls.bundle(entry.index);
      const file = `ledger-entry-${entry.index}.json`;
      saveJson(bundle, file);
      setSaved(file);
      setOutcome(verifyParsed(bundle, "", file));
    } catch (problem) {
      setError(problem);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="gov-panel" aria-labelledby="gov-entry-heading">
      <h2 id="gov-entry-heading">{t("governance.ledger.entry", { index: entry.index })}</h2>
      <dl className="gov-dl">
        <dt>{t("governance.ledger.kind")}</dt>
        <dd className="gov-mono">{entry.kind}</dd>
        <dt>{t("governance.ledger.time")}</dt>
        <dd>
          <When iso={entry.at} />
        </dd>
        <dt>{t("governance.ledger.subjects")}</dt>
        <dd className="gov-mono">{entry.subjects.length ? entry.subjects.join(", ") : t("governance.ledger.noSubjects")}</dd>
        <dt>{t("governance.ledger.leafHash")}</dt>
        <dd className="gov-mono">{entry.leaf_hash}</dd>
        <dt>{t("governance.ledger.commitment")}</dt>
        <dd className="gov-mono">{entry.commitment}</dd>
      </dl>
      <div className="gov-actions">
        <button type="button" className="button button-primary" onClick={() => void download()} disabled={busy}>
          {busy ? t("governance.ledger.downloading") : t("governance.ledger.download")}
        </button>
        {saved && !busy && <span role="status">{t("governance.ledger.downloaded", { file: saved })}</span>}
      </div>
      {error !== null && <ProblemMessage error={error} />}
      {outcome && (
        <VerificationResult outcome={outcome} heading={t("governance.verify.result", { index: entry.index })} />
      )}
      <h3>{t("governance.ledger.payload")}</h3>
      {entry.payload_erased ? (
        <p>{t("governance.ledger.payloadErased")}</p>
      ) : (
        <pre className="gov-pre" tabIndex={0} aria-label={t("governance.ledger.payload")}>
          {JSON.stringify(entry.payload, null, 2)}
        </pre>
      )}
      {entry.withheld.length > 0 && (
        <p className="withheld">{t("governance.ledger.withheld", { paths: entry.withheld.join(", ") })}</p>
      )}
    </section>
  );
}

function Entries() {
  const { t } = useTranslation();
  const [params, setParams] = useSearchParams();
  const afterParam = params.get("after");
  const after = afterParam !== null && /^-?\d+$/.test(afterParam) ? Number(afterParam) : null;
  const entryParam = params.get("entry");
  const selected = entryParam !== null && /^\d+$/.test(entryParam) ? Number(entryParam) : null;
  const page = useLedgerEntries(after, PAGE);
  const entry = useLedgerEntry(selected);

  const go = (changes: Record<string, string | null>) =>
    setParams((current) => {
      const next = new URLSearchParams(current);
      for (const [name, value] of Object.entries(changes)) {
        if (value === null) next.delete(name);
        else next.set(name, value);
      }
      return next;
    });

  const data = page.data;
  const rows = data?.data ?? [];
  const size = data?.size ?? 0;
  const first = rows[0]?.index ?? 0;
  const newestAfter = size - PAGE - 1;

  return (
    <div className="gov-columns">
      <section aria-labelledby="gov-entries-heading">
        <h2 id="gov-entries-heading">{t("governance.ledger.entries")}</h2>
        {page.error && <ProblemMessage error={page.error} />}
        {page.isPending && <p role="status">{t("common.loading")}</p>}
        {data && rows.length === 0 && <p>{t("governance.ledger.noEntries")}</p>}
        {rows.length > 0 && (
          <div className="table-wrap">
            <table>
              <caption>
                {t("governance.ledger.entriesCaption", { first, last: rows.at(-1)?.index ?? first, size })}
              </caption>
              <thead>
                <tr>
                  <th scope="col">{t("governance.ledger.index")}</th>
                  <th scope="col">{t("governance.ledger.kind")}</th>
                  <th scope="col">{t("governance.ledger.time")}</th>
                  <th scope="col">{t("governance.ledger.subjects")}</th>
                  <th scope="col">{t("governance.ledger.leafHash")}</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((row) => (
                  <tr key={row.index} aria-current={row.index === selected ? "true" : undefined}>
                    <td>
                      <button
                        type="button"
                        className="button button-quiet"
                        aria-label={t("governance.ledger.open", { index: row.index })}
                        onClick={() => go({ entry: String(row.index) })}
                      >
                        {row.index}
                      </button>
                    </td>
                    <td className="gov-mono">{row.kind}</td>
                    <td>
                      <When iso={row.at} />
                    </td>
                    <td>{row.subjects.length}</td>
                    <td className="gov-mono">{short(row.leaf_hash)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        <div className="pager">
          <button type="button" className="button" disabled={after === null} onClick={() => go({ after: null })}>
            {t("governance.ledger.first")}
          </button>
          <button
            type="button"
            className="button"
            disabled={after === null}
            onClick={() => go({ after: after !== null && after - PAGE >= 0 ? String(after - PAGE) : null })}
          >
            {t("governance.ledger.previous")}
          </button>
          <button
            type="button"
            className="button"
            disabled={data?.next_after === null || data === undefined}
            onClick={() => go({ after: data?.next_after != null ? String(data.next_after) : null })}
          >
            {t("governance.ledger.next")}
          </button>
          <button
            type="button"
            className="button"
            disabled={data === undefined || newestAfter < 0 || after === newestAfter}
            onClick={() => go({ after: String(newestAfter) })}
          >
            {t("governance.ledger.newest")}
          </button>
        </div>
      </section>
      <div>
        {entry.error && <ProblemMessage error={entry.error} />}
        {entry.data && <EntryDetail key={entry.data.index} entry={entry.data} />}
        <VerifyFile />
      </div>
    </div>
  );
}

function Checkpoints() {
  const { t } = useTranslation();
  const checkpoints = useCheckpoints();
  const keys = useLedgerKeys();
  const sign = useSignCheckpoint();
  return (
    <section className="gov-section" aria-labelledby="gov-checkpoints-heading">
      <h2 id="gov-checkpoints-heading">{t("governance.ledger.checkpoints")}</h2>
      {keys.data && (
        <div className="gov-panel">
          <h3>{t("governance.ledger.publicKey")}</h3>
          <p className="gov-figure-explain">{t("governance.ledger.publicKeyExplain")}</p>
          <p className="gov-mono">{keys.data.active}</p>
          <CopyButton text={keys.data.active} />
        </div>
      )}
      {keys.error && <ProblemMessage error={keys.error} />}
      <div className="gov-actions">
        <button type="button" className="button" onClick={() => sign.mutate()} disabled={sign.isPending}>
          {t("governance.ledger.sign")}
        </button>
        {sign.data && <span role="status">{t("governance.ledger.signed", { size: sign.data.size })}</span>}
      </div>
      {sign.error && <ProblemMessage error={sign.error} />}
      {checkpoints.error && <ProblemMessage error={checkpoints.error} />}
      {checkpoints.data && checkpoints.data.data.length === 0 && <p>{t("governance.ledger.noCheckpoints")}</p>}
      {checkpoints.data && checkpoints.data.data.length > 0 && (
        <div className="table-wrap">
          <table>
            <caption>{t("governance.ledger.checkpointsCaption")}</caption>
            <thead>
              <tr>
                <th scope="col">{t("governance.ledger.size")}</th>
                <th scope="col">{t("governance.ledger.root")}</th>
                <th scope="col">{t("governance.ledger.keyId")}</th>
                <th scope="col">{t("governance.ledger.signedAt")}</th>
              </tr>
            </thead>
            <tbody>
              {checkpoints.data.data.map((checkpoint) => (
                <tr key={`${checkpoint.size}-${checkpoint.created_at}`}>
                  <td>{checkpoint.size}</td>
                  <td className="gov-mono">{checkpoint.root}</td>
                  <td className="gov-mono">{checkpoint.key_id}</td>
                  <td>
                    <When iso={checkpoint.created_at} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

export default function LedgerPage() {
  const { t } = useTranslation();
  return (
    <GovernanceFrame section="ledger" title={t("governance.ledger.heading")}>
      <p className="gov-intro">{t("governance.ledger.intro")}</p>
      <Entries />
      <Checkpoints />
    </GovernanceFrame>
  );
}
