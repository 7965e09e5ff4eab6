import { useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useParams } from "react-router";
import type { VersionedRecord } from "../../api/client";
import { ApiProblem } from "../../api/problem";
import { queryKeys, useObjects, useRecord } from "../../api/queries";
import type { ObjectDefinition, ObjectPermission } from "../../api/types";
import { FieldValue } from "../../components/FieldValue";
import { ProblemMessage } from "../../components/ProblemMessage";
import { useDocumentTitle } from "../../components/useDocumentTitle";
import { useLanguage } from "../../components/useLanguage";
import { WithheldValue } from "../../components/WithheldValue";
import { editableFields } from "../../records/editing";
import {
  cellOf,
  fieldLabel,
  objectLabel,
  permissionFor,
  readableFields,
  recordTitle,
  withheldFields,
} from "../../records/fields";
import { formatTimestamp } from "../../records/format";
import { useMe } from "../../session/SessionContext";
import { usePurpose, workspaceKeys } from "../../api/workspace";
import { PurposePicker } from "../../components/PurposePicker";
import { EditForm } from "./EditForm";
import { RelatedRecords } from "./RelatedRecords";
import { Timeline } from "./Timeline";

/** /records/:object/:id — a record's fields, and the form to edit the writable ones. */
export default function RecordDetailPage() {
  const { t } = useTranslation();
  const { object: objectName = "", id = "" } = useParams();
  const objects = useObjects();
  const record = useRecord(objectName, id);
  const me = useMe();
  const object = objects.data?.find((o) => o.name === objectName) ?? null;

  if (objects.isError || record.isError) {
    const error = objects.error ?? record.error;
    const missing = error instanceof ApiProblem && (error.status === 404 || error.status === 403);
    return (
      <>
        <TitledHeading text={missing ? t("record.notFound") : t("errors.heading")} />
        <ProblemMessage error={error} />
      </>
    );
  }
  if (!object || !record.data) {
    return (
      <>
        <TitledHeading text={t("common.loading")} />
        {objects.isSuccess && !object ? (
          <p role="alert">{t("record.notFound")}</p>
        ) : (
          <p role="status">{t("common.loading")}</p>
        )}
      </>
    );
  }
  return (
    <RecordView
      key={`${object.name}/${id}`}
      object={object}
      current={record.data}
      permission={permissionFor(me, object.name)}
    />
  );
}

function TitledHeading({ text }: { text: string }) {
  useDocumentTitle(text);
  return <h1>{text}</h1>;
}

function RecordView({
  object,
  current,
  permission,
}: {
  object: ObjectDefinition;
  current: VersionedRecord;
  permission: ObjectPermission | null;
}) {
  const { t } = useTranslation();
  const language = useLanguage();
  const queryClient = useQueryClient();
  const [editing, setEditing] = useState(false);
  const [savedVersion, setSavedVersion] = useState<number | null>(null);
  const { record, version } = current;
  const label = objectLabel(object, language);
  const title = recordTitle(object, record) ?? record.id;
  const heading = t("record.heading", { object: label, title });
  useDocumentTitle(heading);

  const fields = readableFields(object, permission);
  const editable = editableFields(fields, permission, record);
  const withheld = withheldFields(record);

  function onSaved(saved: VersionedRecord) {
    queryClient.setQueryData(queryKeys.record(object.name, record.id), saved);
    void queryClient.invalidateQueries({ queryKey: queryKeys.recordsOf(object.name) });
    void queryClient.invalidateQueries({ queryKey: workspaceKeys.timeline(object.name, record.id) });
    setSavedVersion(saved.version);
    setEditing(false);
  }
  const purpose = usePurpose();
  const needsPurpose =
    purpose !== null || [...withheld.values()].some((w) => w.reason === "no-purpose");

  return (
    <article className="record">
      <p>
        <Link to={`/records/${object.name}`}>
          {t("record.back", { objects: objectLabel(object, language, true) })}
        </Link>
      </p>
      <h1>{heading}</h1>
      <p className="muted">
        <span>{t("record.version", { version })}</span>
        {" · "}
        <span>{t("record.updated", { when: formatTimestamp(record.updated_at, language) })}</span>
      </p>
      {needsPurpose && <PurposePicker />}
      {savedVersion !== null && !editing && (
        <p className="notice" role="status">
          {t("record.saved", { version: savedVersion })}
        </p>
      )}
      {editing ? (
        <EditForm
          object={object}
          current={current}
          fields={editable}
          readOnly={fields.filter((f) => !editable.includes(f))}
          onSaved={onSaved}
          onCancel={() => setEditing(false)}
          onReloaded={(latest) =>
            queryClient.setQueryData(queryKeys.record(object.name, record.id), latest)
          }
        />
      ) : (
        <>
          {editable.length > 0 && (
            <button
              type="button"
              className="button button-primary"
              onClick={() => {
                setSavedVersion(null);
                setEditing(true);
              }}
            >
              {t("record.edit")}
            </button>
          )}
          <section aria-labelledby="record-details">
            <h2 id="record-details">{t("record.details")}</h2>
            <dl className="fields">
              {fields.map((field) => {
                const cell = cellOf(record, field.name, withheld);
                return (
                  <div key={field.name} className="field-row">
                    <dt>{fieldLabel(field, language)}</dt>
                    <dd>
                      {cell.kind === "withheld" ? (
                        <WithheldValue withheld={cell.withheld} />
                      ) : (
                        <FieldValue field={field} value={cell.value} />
                      )}
                    </dd>
                  </div>
                );
              })}
            </dl>
          </section>
          <RelatedRecords object={object} record={record} />
        </>
      )}
      <Timeline object={object} recordId={record.id} />
    </article>
  );
}
