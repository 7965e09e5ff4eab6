import { useQueryClient } from "@tanstack/react-query";
import { useEffect, useRef, useState, type SubmitEvent } from "react";
import { useTranslation } from "react-i18next";
import { Link, useNavigate, useParams } from "react-router";
import { ApiProblem, fieldErrorsFrom, type FieldErrors } from "../../api/problem";
import { queryKeys, useObjects } from "../../api/queries";
import type { FieldDefinition, ObjectDefinition, ObjectPermission, RecordData } from "../../api/types";
import { useWorkspace } from "../../api/workspace";
import { ProblemMessage } from "../../components/ProblemMessage";
import { useDocumentTitle } from "../../components/useDocumentTitle";
import { useLanguage } from "../../components/useLanguage";
import { buildCreate, creatableFields, draftOf, type Draft, type InputValue } from "../../records/editing";
import { objectLabel, permissionFor, readableFields } from "../../records/fields";
import { useMe } from "../../session/SessionContext";
import { FieldInput, inputId } from "./FieldInput";

/** /records/:object/new — a form generated from the object's runtime metadata. */
export default function RecordCreatePage() {
  const { t } = useTranslation();
  const { object: objectName = "" } = useParams();
  const objects = useObjects();
  const me = useMe();
  const object = objects.data?.find((o) => o.name === objectName) ?? null;
  if (objects.isError) {
    return (
      <>
        <Heading text={t("errors.heading")} />
        <ProblemMessage error={objects.error} />
      </>
    );
  }
  if (!object) {
    return (
      <>
        <Heading text={t("common.loading")} />
        {objects.isSuccess ? (
          <p role="alert">{t("notFound.body")}</p>
        ) : (
          <p role="status">{t("common.loading")}</p>
        )}
      </>
    );
  }
  return <CreateForm key={object.name} object={object} permission={permissionFor(me, object.name)} />;
}

function Heading({ text }: { text: string }) {
  useDocumentTitle(text);
  return <h1>{text}</h1>;
}

/** The field's default as a stored value, so the form starts where the server would. */
function defaults(fields: FieldDefinition[]): RecordData {
  const values: Record<string, unknown> = {};
  for (const field of fields) if (field.default !== null) values[field.name] = field.default;
  return values as RecordData;
}

function CreateForm({
  object,
  permission,
}: {
  object: ObjectDefinition;
  permission: ObjectPermission | null;
}) {
  const { t } = useTranslation();
  const language = useLanguage();
  const navigate = useNavigate();
  const calls = useWorkspace();
  const queryClient = useQueryClient();
  const fields = creatableFields(readableFields(object, permission), permission);
  const [draft, setDraft] = useState<Draft>(() => draftOf(fields, defaults(fields)));
  const [saving, setSaving] = useState(false);
  const [fieldErrors, setFieldErrors] = useState<FieldErrors | null>(null);
  const [failure, setFailure] = useState<unknown>(null);
  const summary = useRef<HTMLDivElement>(null);
  const label = objectLabel(object, language);
  const heading = t("workspace.create.heading", { object: label });
  useDocumentTitle(heading);

  useEffect(() => {
    if (!fieldErrors) return;
    const first = fields.find((f) => fieldErrors.byField[f.name]?.length);
    if (first) document.getElementById(inputId(first.name))?.focus();
    else summary.current?.focus();
  }, [fieldErrors, fields]);

  async function submit(event: SubmitEvent<HTMLFormElement>) {
    event.preventDefault();
    if (saving) return;
    setFieldErrors(null);
    setFailure(null);
    setSaving(true);
    try {
      const created = await calls.createRecord(object.name, buildCreate(fields, draft));
      queryClient.setQueryData(queryKeys.record(object.name, created.record.id), created);
      void queryClient.invalidateQueries({ queryKey: queryKeys.recordsOf(object.name) });
      await navigate(`/records/${object.name}/${created.record.id}`);
    } catch (error) {
      if (error instanceof ApiProblem && (error.status === 422 || error.status === 400)) {
        setFieldErrors(fieldErrorsFrom(error, fields.map((f) => f.name)));
      } else {
        setFailure(error);
      }
    } finally {
      setSaving(false);
    }
  }

  const back = (
    <p>
      <Link to={`/records/${object.name}`}>
        {t("workspace.create.back", { objects: objectLabel(object, language, true) })}
      </Link>
    </p>
  );
  if (fields.length === 0) {
    return (
      <>
        {back}
        <h1>{heading}</h1>
        <p role="alert">
          {t("workspace.create.notAllowed", { objects: objectLabel(object, language, true) })}
        </p>
      </>
    );
  }
  const general = fieldErrors?.general ?? [];
  return (
    <>
      {back}
      <h1>{heading}</h1>
      <form className="edit-form" aria-label={heading} noValidate onSubmit={(e) => void submit(e)}>
        {(general.length > 0 || failure !== null) && (
          <div ref={summary} tabIndex={-1} className="form-summary">
            {general.length > 0 && (
              <div className="problem" role="alert">
                <p className="problem-title">{t("workspace.create.notCreated")}</p>
                <ul>
                  {general.map((message, index) => (
                    <li key={index}>{message}</li>
                  ))}
                </ul>
              </div>
            )}
            {failure !== null && <ProblemMessage error={failure} />}
          </div>
        )}
        {fields.map((field) => (
          <FieldInput
            key={field.name}
            field={field}
            value={draft[field.name] ?? ""}
            onChange={(value: InputValue) => setDraft((d) => ({ ...d, [field.name]: value }))}
            errors={fieldErrors?.byField[field.name]}
            theirs={null}
          />
        ))}
        <div className="form-actions">
          <button type="submit" className="button button-primary" aria-disabled={saving}>
            {t("workspace.create.submit")}
          </button>
          <Link className="button" to={`/records/${object.name}`}>
            {t("record.cancel")}
          </Link>
          {saving && (
            <span role="status" className="muted">
              {t("workspace.create.creating")}
            </span>
          )}
        </div>
      </form>
    </>
  );
}
