import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type DragEvent } from "react";
import { useTranslation } from "react-i18next";
import { Link, useParams, useSearchParams } from "react-router";
import { ApiProblem } from "../../api/problem";
import { queryKeys, useObjects } from "../../api/queries";
import type { FieldDefinition, ObjectDefinition, RecordData, RecordPage } from "../../api/types";
import { useWorkspace } from "../../api/workspace";
import { ProblemMessage } from "../../components/ProblemMessage";
import { useDocumentTitle } from "../../components/useDocumentTitle";
import { useLanguage } from "../../components/useLanguage";
import { boardColumns, groupingField } from "../../records/board";
import { mayWriteField } from "../../records/editing";
import { fieldLabel, objectLabel, optionLabel, permissionFor, recordTitle } from "../../records/fields";
import { formatValue } from "../../records/format";
import { asText } from "../../records/text";
import { useApi, useMe } from "../../session/SessionContext";
import { ConflictDialog } from "../record-detail/ConflictDialog";
import "../../styles/workspace.css";

/** Cards on one board: the most recently updated records (one page, the API's maximum). */
export const BOARD_LIMIT = 200;

/** /board/:object?field=stage — the object's records as cards in one column per option. */
export default function BoardPage() {
  const { t } = useTranslation();
  const language = useLanguage();
  const { object: objectName = "" } = useParams();
  const [params, setParams] = useSearchParams();
  const objects = useObjects();
  const object = objects.data?.find((o) => o.name === objectName) ?? null;
  const field = object ? groupingField(object, params.get("field")) : null;
  const heading =
    object && field
      ? t("workspace.kanban.heading", {
          objects: objectLabel(object, language, true),
          field: fieldLabel(field, language),
        })
      : object
        ? objectLabel(object, language, true)
        : t("workspace.board");
  useDocumentTitle(heading);

  return (
    <>
      <h1>{heading}</h1>
      {objects.isPending && <p role="status">{t("common.loading")}</p>}
      {objects.isError && <ProblemMessage error={objects.error} />}
      {objects.isSuccess && !object && <p role="alert">{t("notFound.body")}</p>}
      {object && (
        <div className="toolbar">
          <Link className="button" to={`/records/${object.name}`}>
            {t("workspace.kanban.list")}
          </Link>
          {field && (
            <div className="field field-inline">
              <label htmlFor="board-group">{t("workspace.kanban.groupBy")}</label>
              <select
                id="board-group"
                value={field.name}
                onChange={(event) => setParams({ field: event.target.value }, { replace: true })}
              >
                {object.fields
                  .filter((f) => f.type === "enum" && f.options.length > 0)
                  .map((f) => (
                    <option key={f.name} value={f.name}>
                      {fieldLabel(f, language)}
                    </option>
                  ))}
              </select>
            </div>
          )}
        </div>
      )}
      {object && !field && <p>{t("workspace.kanban.noField")}</p>}
      {object && field && <Board key={`${object.name}.${field.name}`} object={object} field={field} />}
    </>
  );
}

type Notice = { kind: "status" | "alert"; text: string } | null;

function Board({ object, field }: { object: ObjectDefinition; field: FieldDefinition }) {
  const { t } = useTranslation();
  const language = useLanguage();
  const me = useMe();
  const api = useApi();
  const calls = useWorkspace();
  const queryClient = useQueryClient();
  const permission = permissionFor(me, object.name);
  const canMove =
    (permission?.actions.includes("update") ?? false) && mayWriteField(permission, field.name);
  const key = ["board", object.name, field.name] as const;
  const page = useQuery({
    queryKey: key,
    queryFn: () => calls.records(object.name, { limit: BOARD_LIMIT, sort: "-updated_at" }),
  });
  // Where a card is shown while its move is in flight (the optimistic position).
  const [moving, setMoving] = useState<Record<string, string>>({});
  const [notice, setNotice] = useState<Notice>(null);
  const [conflict, setConflict] = useState<{
    record: RecordData;
    to: string;
    version: number | null;
  } | null>(null);
  const [reloading, setReloading] = useState(false);
  const [dragOver, setDragOver] = useState<string | null>(null);

  const stage = (value: string) =>
    value ? optionLabel(field, value, language) : t("workspace.kanban.noValue");
  const titleOf = (record: RecordData) =>
    recordTitle(object, record) ?? t("records.untitled", { id: record.id.slice(-8) });

  function replace(saved: RecordData) {
    queryClient.setQueryData<RecordPage>(key, (old) =>
      old ? { ...old, data: old.data.map((r) => (r.id === saved.id ? saved : r)) } : old,
    );
    queryClient.setQueryData(queryKeys.record(object.name, saved.id), {
      record: saved,
      version: saved.version,
    });
  }

  function settle(id: string) {
    setMoving((current) => Object.fromEntries(Object.entries(current).filter(([k]) => k !== id)));
  }

  async function move(record: RecordData, to: string) {
    const from = asText(record[field.name]);
    if (to === from || record.id in moving) return;
    const title = titleOf(record);
    setMoving((m) => ({ ...m, [record.id]: to }));
    setNotice({ kind: "status", text: t("workspace.kanban.moving", { title, stage: stage(to) }) });
    try {
      const saved = await api.updateRecord(
        object.name,
        record.id,
        { [field.name]: to || null },
        record.version,
      );
      replace(saved.record);
      setNotice({ kind: "status", text: t("workspace.kanban.moved", { title, stage: stage(to) }) });
    } catch (error) {
      if (error instanceof ApiProblem && error.status === 412) {
        setConflict({ record, to, version: error.currentVersion });
        setNotice(null);
      } else {
        const detail = error instanceof ApiProblem ? error.detail || error.title : String(error);
        setNotice({ kind: "alert", text: t("workspace.kanban.failed", { title, detail }) });
      }
    } finally {
      settle(record.id); // rolled back unless the saved record now says otherwise
    }
  }

  async function loadTheirs() {
    if (!conflict || reloading) return;
    setReloading(true);
    try {
      const latest = await api.record(object.name, conflict.record.id);
      replace(latest.record);
      setNotice({
        kind: "status",
        text: t("workspace.kanban.loaded", {
          version: latest.version,
          title: titleOf(latest.record),
          stage: stage(asText(latest.record[field.name])),
        }),
      });
    } catch (error) {
      const detail = error instanceof ApiProblem ? error.detail || error.title : String(error);
      setNotice({ kind: "alert", text: detail });
    } finally {
      setReloading(false);
      setConflict(null);
    }
  }

  function onDrop(event: DragEvent<HTMLElement>, to: string) {
    event.preventDefault();
    setDragOver(null);
    const id = event.dataTransfer.getData("text/plain");
    const record = page.data?.data.find((r) => r.id === id);
    if (record) void move(record, to);
  }

  if (page.isPending) return <p role="status">{t("common.loading")}</p>;
  if (page.isError) return <ProblemMessage error={page.error} />;
  const columns = boardColumns(field, page.data.data, moving);
  const money = object.fields.find((f) => f.type === "money");
  return (
    <>
      <p className="hint">{t("workspace.kanban.drag")}</p>
      {page.data.next_cursor && (
        <p className="muted">{t("workspace.kanban.limited", { count: BOARD_LIMIT })}</p>
      )}
      <div aria-live="polite">
        {notice?.kind === "status" && (
          <p className="notice" role="status">
            {notice.text}
          </p>
        )}
      </div>
      {notice?.kind === "alert" && (
        <p className="problem" role="alert">
          {notice.text}
        </p>
      )}
      <div className="board" inert={conflict !== null}>
        {columns.map((column) => {
          const headingId = `board-column-${column.value || "none"}`;
          return (
            <section
              key={column.value}
              className={dragOver === column.value ? "board-column drag-over" : "board-column"}
              aria-labelledby={headingId}
              onDragOver={(event) => {
                if (!canMove) return;
                event.preventDefault();
                setDragOver(column.value);
              }}
              onDragLeave={() => setDragOver(null)}
              onDrop={(event) => onDrop(event, column.value)}
            >
              <h2 id={headingId}>
                {t("workspace.kanban.column", {
                  stage: stage(column.value),
                  count: column.records.length,
                })}
              </h2>
              <ul className="board-cards">
                {column.records.map((record) => (
                  <Card
                    key={record.id}
                    object={object}
                    field={field}
                    record={record}
                    title={titleOf(record)}
                    money={money}
                    busy={record.id in moving}
                    canMove={canMove}
                    onMove={(to) => void move(record, to)}
                    stage={stage}
                  />
                ))}
              </ul>
            </section>
          );
        })}
      </div>
      {conflict && (
        <ConflictDialog
          version={conflict.version}
          busy={reloading}
          onReload={() => void loadTheirs()}
          onKeepEditing={() => {
            setNotice({
              kind: "status",
              text: t("workspace.kanban.kept", {
                title: titleOf(conflict.record),
                stage: stage(asText(conflict.record[field.name])),
              }),
            });
            setConflict(null);
            void queryClient.invalidateQueries({ queryKey: key });
          }}
        />
      )}
    </>
  );
}

function Card({
  object,
  field,
  record,
  title,
  money,
  busy,
  canMove,
  onMove,
  stage,
}: {
  object: ObjectDefinition;
  field: FieldDefinition;
  record: RecordData;
  title: string;
  money: FieldDefinition | undefined;
  busy: boolean;
  canMove: boolean;
  onMove: (to: string) => void;
  stage: (value: string) => string;
}) {
  const { t } = useTranslation();
  const language = useLanguage();
  const current = asText(record[field.name]);
  const selectId = `move-${record.id}`;
  return (
    <li
      className={busy ? "board-card busy" : "board-card"}
      draggable={canMove && !busy}
      aria-busy={busy}
      onDragStart={(event) => {
        event.dataTransfer.setData("text/plain", record.id);
        event.dataTransfer.effectAllowed = "move";
      }}
    >
      <Link to={`/records/${object.name}/${record.id}`} className="board-card-title">
        {title}
      </Link>
      {money && record[money.name] !== null && record[money.name] !== undefined && (
        <p className="muted">
          {fieldLabel(money, language)}:{" "}
          {formatValue(money, record[money.name], language, { yes: t("common.yes"), no: t("common.no") })}
        </p>
      )}
      {canMove && (
        <div className="board-move">
          <label htmlFor={selectId} className="visually-hidden">
            {t("workspace.kanban.moveLabel", { title })}
          </label>
          <select
            id={selectId}
            value=""
            disabled={busy}
            onChange={(event) => {
              if (event.target.value !== "") onMove(event.target.value === "-" ? "" : event.target.value);
            }}
          >
            <option value="">{t("workspace.kanban.moveTo")}</option>
            {field.options
              .filter((o) => o.value !== current)
              .map((o) => (
                <option key={o.value} value={o.value}>
                  {stage(o.value)}
                </option>
              ))}
          </select>
        </div>
      )}
    </li>
  );
}
