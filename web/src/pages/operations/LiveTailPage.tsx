/**
 * /operations/live — the live tail: events as they are stored (GET /api/v1/events/stream,
 * read with fetch so the bearer header goes along; see operations/sse.ts), newest first, at
 * most 200 shown, filtered by type and key. Pause holds new events back until resumed; a
 * stream the server ends (it is stopping) or a lost connection is resumed after the last
 * position seen, so nothing stored in between is missed.
 */
import { useEffect, useId, useReducer, useRef, useState, type SubmitEvent } from "react";
import { useTranslation } from "react-i18next";
import { Link } from "react-router";
import { useOperationsApi, type StoredEvent, type StreamMessage } from "../../api/operations";
import { ApiProblem } from "../../api/problem";
import { ProblemMessage } from "../../components/ProblemMessage";
import { useDocumentTitle } from "../../components/useDocumentTitle";
import { useLanguage } from "../../components/useLanguage";
import { formatTime, parseTypes, pretty } from "../../operations/format";
import { emptyTail, TAIL_MAX, tailReducer } from "../../operations/tail";
import "../../styles/operations.css";

type Status = "connecting" | "live" | "ended" | "lost" | "failed";
const RECONNECT_MS = 3000;

interface Filter {
  types: string[];
  key: string;
}

export default function LiveTailPage() {
  const { t } = useTranslation();
  const language = useLanguage();
  const ops = useOperationsApi();
  const id = useId();
  const [filter, setFilter] = useState<Filter>({ types: [], key: "" });
  const [typesText, setTypesText] = useState("");
  const [keyText, setKeyText] = useState("");
  const [tail, dispatch] = useReducer(tailReducer, emptyTail);
  const [status, setStatus] = useState<Status>("connecting");
  const [problem, setProblem] = useState<unknown>(null);
  const [attempt, setAttempt] = useState(0);
  const [lastBeat, setLastBeat] = useState<string | null>(null);
  const position = useRef<string | null>(null);
  useDocumentTitle(t("operations.live.title"));

  useEffect(() => {
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    let failed = false;
    const again = () => {
      timer = setTimeout(reconnect, RECONNECT_MS);
    };
    const onMessage = (message: StreamMessage) => {
      switch (message.event) {
        case "ready":
          setStatus("live");
          position.current = message.data.position ?? position.current;
          break;
        case "event":
          dispatch({ kind: "add", event: message.data });
          position.current = message.id;
          break;
        case "heartbeat":
          setLastBeat(message.data.at);
          position.current = message.data.position ?? position.current;
          break;
        case "end":
          setStatus("ended");
          break;
        case "error":
          failed = true;
          setStatus("failed");
          setProblem(new ApiProblem(message.data));
          break;
      }
    };
    ops
      .stream({ ...filter, after: position.current }, onMessage, controller.signal)
      .then(() => {
        if (controller.signal.aborted || failed) return;
        setStatus((current) => (current === "ended" ? "ended" : "lost"));
        again();
      })
      .catch((error: unknown) => {
        if (controller.signal.aborted) return;
        if (error instanceof ApiProblem && error.status >= 400 && error.status < 500) {
          setStatus("failed");
          setProblem(error);
          return;
        }
        setStatus("lost");
        again();
      });
    return () => {
      controller.abort();
      clearTimeout(timer);
    };
    // `ops` is rebuilt each render; the stream depends on the filter and the attempt only.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [filter, attempt]);

  function reconnect() {
    setStatus("connecting");
    setProblem(null);
    setAttempt((n) => n + 1);
  }

  function apply(event: SubmitEvent<HTMLFormElement>) {
    event.preventDefault();
    setStatus("connecting");
    setProblem(null);
    position.current = null; // a new filter starts from now
    dispatch({ kind: "clear" });
    setFilter({ types: parseTypes(typesText), key: keyText.trim() });
  }

  const statusText =
    status === "live"
      ? tail.paused
        ? t("operations.live.paused", { count: tail.held.length })
        : t("operations.live.connected")
      : t(`operations.live.${status === "connecting" ? "connecting" : status}`);

  return (
    <>
      <h1>{t("operations.live.title")}</h1>
      <ul className="ops-links">
        <li>
          <Link to="/operations">{t("operations.links.back")}</Link>
        </li>
      </ul>
      <p>{t("operations.live.intro")}</p>
      <form className="ops-filters" onSubmit={apply} aria-label={t("operations.live.apply")}>
        <div className="field">
          <label htmlFor={`${id}-types`}>{t("operations.live.types")}</label>
          <input
            id={`${id}-types`}
            value={typesText}
            aria-describedby={`${id}-types-hint`}
            onChange={(event) => setTypesText(event.target.value)}
            autoComplete="off"
          />
          <p id={`${id}-types-hint`} className="hint">
            {t("operations.live.typesHint")}
          </p>
        </div>
        <div className="field">
          <label htmlFor={`${id}-key`}>{t("operations.live.key")}</label>
          <input
            id={`${id}-key`}
            value={keyText}
            onChange={(event) => setKeyText(event.target.value)}
            autoComplete="off"
          />
        </div>
        <button type="submit" className="button">
          {t("operations.live.apply")}
        </button>
      </form>
      <div className="toolbar">
        <button
          type="button"
          className="button"
          aria-pressed={tail.paused}
          onClick={() => dispatch({ kind: tail.paused ? "resume" : "pause" })}
        >
          {tail.paused ? t("operations.live.resume") : t("operations.live.pause")}
        </button>
        <button type="button" className="button button-quiet" onClick={() => dispatch({ kind: "clear" })}>
          {t("operations.live.clear")}
        </button>
        {status === "failed" && (
          <button type="button" className="button" onClick={reconnect}>
            {t("operations.live.reconnect")}
          </button>
        )}
      </div>
      <p role="status" className="ops-live-status">
        {statusText}
        {lastBeat && status === "live" ? (
          <span className="muted"> {t("operations.live.lastBeat", { time: formatTime(lastBeat, language) })}</span>
        ) : null}
      </p>
      {problem !== null && <ProblemMessage error={problem} />}
      <div className="table-wrap">
        <table className="records">
          <caption>{t("operations.live.caption", { max: TAIL_MAX })}</caption>
          <thead>
            <tr>
              <th scope="col">{t("operations.live.stored")}</th>
              <th scope="col">{t("operations.live.type")}</th>
              <th scope="col">{t("operations.live.key")}</th>
              <th scope="col">{t("operations.live.position")}</th>
              <th scope="col">{t("operations.live.data")}</th>
            </tr>
          </thead>
          <tbody>
            {tail.shown.map((stored) => (
              <EventRow key={stored.position} stored={stored} />
            ))}
          </tbody>
        </table>
      </div>
      {tail.shown.length === 0 && <p>{t("operations.live.none")}</p>}
    </>
  );
}

function eventKey(stored: StoredEvent): string {
  const event = stored.event;
  return event.partitionkey || event.subject || event.source;
}

function EventRow({ stored }: { stored: StoredEvent }) {
  const { t } = useTranslation();
  const language = useLanguage();
  return (
    <tr>
      <td>{formatTime(stored.stored_at, language)}</td>
      <td>
        <code>{stored.event.type}</code>
      </td>
      <td className="ops-cell-wrap">{eventKey(stored)}</td>
      <td>{stored.position}</td>
      <td className="ops-cell-wrap">
        <details>
          <summary>{t("operations.live.showData")}</summary>
          <pre className="ops-json">{pretty(stored.event.data ?? null)}</pre>
        </details>
      </td>
    </tr>
  );
}
