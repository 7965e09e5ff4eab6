/**
 * /operations/dead-letters — the dead-letter inbox: filter, inspect a letter (its payload as
 * the API redacts it for this reader), fix its payload (JSON checked as typed, PATCH), replay
 * or discard it. Each action asks first and shows the server's answer — or its refusal — in
 * place; what was typed stays.
 */
import { useId, useState, type ReactNode, type SubmitEvent } from "react";
import { useTranslation } from "react-i18next";
import { Link, useSearchParams } from "react-router";
import {
  useDeadLetter,
  useDeadLetters,
  useLetterAction,
  useOperationsApi,
  type DeadLetterDetail,
  type LetterFilter,
  type LetterStatus,
} from "../../api/operations";
import { ProblemMessage } from "../../components/ProblemMessage";
import { useDocumentTitle } from "../../components/useDocumentTitle";
import { useLanguage } from "../../components/useLanguage";
import { checkJson, editablePayload, formatTime } from "../../operations/format";
import { ConfirmButton, Section, StatusText, useStatusLabel } from "./common";

const STATUSES: LetterStatus[] = ["open", "replayed", "discarded", "any"];

function filterFrom(params: URLSearchParams): LetterFilter {
  const status = params.get("status");
  return {
    status: STATUSES.includes(status as LetterStatus) ? (status as LetterStatus) : "open",
    reason: params.get("reason") ?? "",
    type: params.get("type") ?? "",
    channel: params.get("channel") ?? "",
  };
}

export default function DeadLettersPage() {
  const { t } = useTranslation();
  const language = useLanguage();
  const [params, setParams] = useSearchParams();
  const filter = filterFrom(params);
  const selected = params.get("letter");
  const [pages, setPages] = useState<(string | null)[]>([null]);
  const before = pages[pages.length - 1] ?? null;
  const letters = useDeadLetters(filter, before);
  useDocumentTitle(t("operations.dead.title"));

  function update(changes: Record<string, string | null>) {
    setParams(
      (current) => {
        const next = new URLSearchParams(current);
        for (const [key, value] of Object.entries(changes)) {
          if (value) next.set(key, value);
          else next.delete(key);
        }
        return next;
      },
      { replace: true },
    );
  }

  const counts = letters.data?.counts ?? {};
  return (
    <>
      <h1>{t("operations.dead.title")}</h1>
      <ul className="ops-links">
        <li>
          <Link to="/operations">{t("operations.links.back")}</Link>
        </li>
      </ul>
      <p>{t("operations.dead.intro")}</p>
      <FilterForm
        key={params.toString()}
        filter={filter}
        onApply={(next) => {
          setPages([null]);
          update({ status: next.status, reason: next.reason ?? null, type: next.type ?? null, channel: next.channel ?? null });
        }}
      />
      {letters.isPending && <p role="status">{t("common.loading")}</p>}
      {letters.isError && <ProblemMessage error={letters.error} />}
      {letters.data && (
        <>
          <p aria-live="polite">
            {t("operations.dead.counts", {
              open: counts.open ?? 0,
              replayed: counts.replayed ?? 0,
              discarded: counts.discarded ?? 0,
            })}
          </p>
          <div className="table-wrap">
            <table className="records" aria-busy={letters.isFetching}>
              <caption>{t("operations.dead.caption")}</caption>
              <thead>
                <tr>
                  <th scope="col">{t("operations.dead.received")}</th>
                  <th scope="col">{t("operations.dead.type")}</th>
                  <th scope="col">{t("operations.dead.reason")}</th>
                  <th scope="col">{t("operations.dead.channel")}</th>
                  <th scope="col">{t("operations.dead.status")}</th>
                  <th scope="col">{t("operations.dead.detail")}</th>
                </tr>
              </thead>
              <tbody>
                {letters.data.data.map((letter) => (
                  <tr key={letter.id} aria-selected={letter.id === selected || undefined}>
                    <td>{formatTime(letter.received_at, language)}</td>
                    <td>{letter.event_type ?? t("operations.value.none")}</td>
                    <td>
                      <code>{letter.reason}</code>
                    </td>
                    <td>{letter.channel}</td>
                    <td>
                      <StatusText status={letter.status} />
                    </td>
                    <td className="ops-cell-wrap">
                      <button
                        type="button"
                        className="button button-quiet"
                        aria-pressed={letter.id === selected}
                        onClick={() => update({ letter: letter.id })}
                      >
                        {t("operations.dead.inspect", { id: letter.event_id ?? letter.id.slice(0, 8) })}
                      </button>
                      <div className="muted">{letter.detail}</div>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {letters.data.data.length === 0 && <p>{t("operations.dead.none")}</p>}
          <div className="pager">
            {pages.length > 1 && (
              <button type="button" className="button" onClick={() => setPages(pages.slice(0, -1))}>
                {t("records.previousPage")}
              </button>
            )}
            {letters.data.next_cursor && (
              <button
                type="button"
                className="button"
                onClick={() => setPages([...pages, letters.data.next_cursor])}
              >
                {t("operations.dead.more")}
              </button>
            )}
          </div>
        </>
      )}
      {selected && <LetterPanel id={selected} onClose={() => update({ letter: null })} />}
    </>
  );
}

function FilterForm({ filter, onApply }: { filter: LetterFilter; onApply: (f: LetterFilter) => void }) {
  const { t } = useTranslation();
  const label = useStatusLabel();
  const [draft, setDraft] = useState(filter);
  const id = useId();
  function submit(event: SubmitEvent<HTMLFormElement>) {
    event.preventDefault();
    onApply({
      status: draft.status,
      reason: draft.reason?.trim() ?? "",
      type: draft.type?.trim() ?? "",
      channel: draft.channel?.trim() ?? "",
    });
  }
  return (
    <form className="ops-filters" onSubmit={submit} aria-label={t("operations.dead.filters")}>
      <div className="field">
        <label htmlFor={`${id}-status`}>{t("operations.dead.status")}</label>
        <select
          id={`${id}-status`}
          value={draft.status}
          onChange={(event) => setDraft({ ...draft, status: event.target.value as LetterStatus })}
        >
          {STATUSES.map((status) => (
            <option key={status} value={status}>
              {label(status)}
            </option>
          ))}
        </select>
      </div>
      <div className="field">
        <label htmlFor={`${id}-reason`}>{t("operations.dead.reason")}</label>
        <input
          id={`${id}-reason`}
          value={draft.reason ?? ""}
          onChange={(event) => setDraft({ ...draft, reason: event.target.value })}
        />
      </div>
      <div className="field">
        <label htmlFor={`${id}-type`}>{t("operations.dead.type")}</label>
        <input
          id={`${id}-type`}
          value={draft.type ?? ""}
          onChange={(event) => setDraft({ ...draft, type: event.target.value })}
        />
      </div>
      <div className="field">
        <label htmlFor={`${id}-channel`}>{t("operations.dead.channel")}</label>
        <input
          id={`${id}-channel`}
          value={draft.channel ?? ""}
          onChange={(event) => setDraft({ ...draft, channel: event.target.value })}
        />
      </div>
      <button type="submit" className="button">
        {t("operations.dead.apply")}
      </button>
    </form>
  );
}

function LetterPanel({ id, onClose }: { id: string; onClose: () => void }) {
  const { t } = useTranslation();
  const letter = useDeadLetter(id);
  const title = t("operations.dead.letter", { id: letter.data?.event_id ?? id.slice(0, 8) });
  return (
    <section className="ops-letter" aria-label={title}>
      <h2>{title}</h2>
      <button type="button" className="button button-quiet" onClick={onClose}>
        {t("operations.dead.close")}
      </button>
      {letter.isPending && <p role="status">{t("common.loading")}</p>}
      {letter.isError && <ProblemMessage error={letter.error} />}
      {letter.data && <LetterBody letter={letter.data} />}
    </section>
  );
}

function LetterBody({ letter }: { letter: DeadLetterDetail }) {
  const { t } = useTranslation();
  const language = useLanguage();
  const facts: [string, ReactNode][] = [
    [t("operations.dead.status"), <StatusText key="status" status={letter.status} />],
    [t("operations.dead.reason"), <code key="reason">{letter.reason}</code>],
    [t("operations.dead.type"), letter.event_type ?? t("operations.value.none")],
    [t("operations.dead.channel"), letter.channel],
    [t("operations.dead.received"), formatTime(letter.received_at, language)],
    [t("operations.dead.attempts"), letter.attempts],
  ];
  if (letter.resolution) facts.push([t("operations.dead.resolution"), letter.resolution]);
  return (
    <>
      <dl className="ops-summary">
        {facts.map(([label, value]) => (
          <div key={label}>
            <dt>{label}</dt>
            <dd>{value}</dd>
          </div>
        ))}
      </dl>
      <p>{letter.detail}</p>
      {letter.errors.length > 0 && (
        <Section title={t("operations.dead.errors")}>
          <ul>
            {letter.errors.map((error, index) => (
              <li key={index}>
                {typeof error.path === "string" && error.path ? <code>{error.path}</code> : null}{" "}
                {typeof error.message === "string" ? error.message : JSON.stringify(error)}
              </li>
            ))}
          </ul>
        </Section>
      )}
      {letter.payload_redacted && <p className="notice">{t("operations.dead.payloadRedacted")}</p>}
      {letter.payload_encoding === "base64" && <p className="hint">{t("operations.dead.payloadBase64")}</p>}
      {letter.truncated && <p className="notice">{t("operations.dead.truncated")}</p>}
      <LetterActions key={letter.id} letter={letter} />
    </>
  );
}

function LetterActions({ letter }: { letter: DeadLetterDetail }) {
  const { t } = useTranslation();
  const ops = useOperationsApi();
  const id = useId();
  const open = letter.status === "open";
  const label = letter.event_id ?? letter.id.slice(0, 8);
  const needsJson = checkJson(letter.payload).ok || (letter.content_type ?? "").includes("json");
  const [text, setText] = useState(() => editablePayload(letter.payload));
  const [note, setNote] = useState("");
  const [noteMissing, setNoteMissing] = useState(false);
  const parsed = checkJson(text);
  const invalid = needsJson && !parsed.ok;
  const fix = useLetterAction(letter.id, (payload: unknown) => ops.fix(letter.id, payload));
  const replay = useLetterAction(letter.id, () => ops.replay(letter.id));
  const discard = useLetterAction(letter.id, (why: string) => ops.discard(letter.id, why));

  return (
    <>
      <div className="field ops-payload-field">
        <label htmlFor={`${id}-payload`}>{t("operations.dead.fixLabel")}</label>
        <p id={`${id}-hint`} className="hint">
          {t("operations.dead.fixHint")}
        </p>
        <textarea
          id={`${id}-payload`}
          className="ops-payload"
          value={text}
          spellCheck={false}
          readOnly={letter.payload_redacted || !open}
          aria-invalid={invalid || undefined}
          aria-describedby={`${id}-hint${invalid ? ` ${id}-json` : ""}`}
          onChange={(event) => setText(event.target.value)}
        />
        {needsJson && !parsed.ok && (
          <p id={`${id}-json`} className="field-error">
            {t("operations.dead.invalidJson", { message: parsed.message })}
          </p>
        )}
      </div>
      <div className="ops-actions">
        <div>
          <ConfirmButton
            label={t("operations.dead.saveFix")}
            question={t("operations.dead.confirmFix", { id: label })}
            disabled={!open || invalid || letter.payload_redacted}
            busy={fix.isPending}
            onConfirm={() => fix.mutate(needsJson && parsed.ok ? parsed.value : text)}
          />
          {fix.isSuccess && <p role="status">{t("operations.dead.fixed")}</p>}
          {fix.isError && <ProblemMessage error={fix.error} />}
        </div>
        <div>
          <ConfirmButton
            label={t("operations.dead.replay")}
            className="button button-primary"
            question={t("operations.dead.confirmReplay", { id: label })}
            disabled={!open}
            busy={replay.isPending}
            onConfirm={() => replay.mutate(undefined)}
          />
          {replay.isSuccess && (
            <p role="status">
              {t("operations.dead.replayedResult", {
                count: replay.data.stored,
                duplicates: replay.data.duplicates,
                positions: replay.data.events.map((e) => e.position).join(", "),
              })}
            </p>
          )}
          {replay.isError && <ProblemMessage error={replay.error} />}
        </div>
      </div>
      <div className="ops-actions">
        <div className="field">
          <label htmlFor={`${id}-note`}>{t("operations.dead.noteLabel")}</label>
          <input
            id={`${id}-note`}
            value={note}
            readOnly={!open}
            aria-invalid={noteMissing || undefined}
            aria-describedby={noteMissing ? `${id}-note-error` : undefined}
            onChange={(event) => {
              setNote(event.target.value);
              setNoteMissing(false);
            }}
          />
          {noteMissing && (
            <p id={`${id}-note-error`} className="field-error">
              {t("operations.dead.noteRequired")}
            </p>
          )}
        </div>
        <div>
          <ConfirmButton
            label={t("operations.dead.discard")}
            question={t("operations.dead.confirmDiscard", { id: label })}
            disabled={!open}
            busy={discard.isPending}
            onConfirm={() => {
              if (note.trim() === "") setNoteMissing(true);
              else discard.mutate(note.trim());
            }}
          />
          {discard.isSuccess && <p role="status">{t("operations.dead.discardedResult")}</p>}
          {discard.isError && <ProblemMessage error={discard.error} />}
        </div>
      </div>
    </>
  );
}
