import { useEffect, useId, useRef, useState, type SubmitEvent } from "react";
import { useTranslation } from "react-i18next";
import type { VersionedRecord } from "../../api/client";
import { classifySaveProblem } from "../../api/concurrency";
import { ApiProblem, fieldErrorsFrom, type FieldErrors } from "../../api/problem";
import type { FieldDefinition, ObjectDefinition } from "../../api/types";
import { FieldValue } from "../../components/FieldValue";
import { ProblemMessage } from "../../components/ProblemMessage";
import { useLanguage } from "../../components/useLanguage";
import { WithheldValue } from "../../components/WithheldValue";
import { buildPatch, draftOf, reconcile, type Draft, type InputValue } from "../../records/editing";
import { cellOf, fieldLabel, recordTitle, withheldFields } from "../../records/fields";
import { formatValue } from "../../records/format";
import { useApi } from "../../session/SessionContext";
import { ConflictDialog } from "./ConflictDialog";
import { FieldInput, inputId } from "./FieldInput";

type Notice = { kind: "no-changes" } | { kind: "reloaded"; version: number } | null;

/**
 * Edits the writable fields and PATCHes what changed with `If-Match: "v<version>"`, where the
 * version is the one the form was opened on (or reloaded to) — never a newer one fetched in
 * the background, which would silently overwrite someone else's save.
 */
export function EditForm({
  object,
  current,
  fields,
  readOnly,
  onSaved,
  onCancel,
  onReloaded,
}: {
  object: ObjectDefinition;
  current: VersionedRecord;
  fields: FieldDefinition[];
  readOnly: FieldDefinition[];
  onSaved: (saved: VersionedRecord) => void;
  onCancel: () => void;
  onReloaded: (latest: VersionedRecord) => void;
}) {
  const { t } = useTranslation();
  const language = useLanguage();
  const api = useApi();
  const headingId = useId();
  const [base, setBase] = useState(current);
  const [draft, setDraft] = useState<Draft>(() => draftOf(fields, current.record));
  const [saving, setSaving] = useState(false);
  const [fieldErrors, setFieldErrors] = useState<FieldErrors | null>(null);
  const [failure, setFailure] = useState<unknown>(null);
  const [conflict, setConflict] = useState<{ version: number | null } | null>(null);
  const [reloading, setReloading] = useState(false);
  const [theirs, setTheirs] = useState<Record<string, unknown>>({});
  const [notice, setNotice] = useState<Notice>(null);
  const summary = useRef<HTMLDivElement>(null);
  const saveButton = useRef<HTMLButtonElement>(null);

  // After a refused save, bring the user to the first message.
  useEffect(() => {
    if (!fieldErrors) return;
    const first = fields.find((f) => fieldErrors.byField[f.name]?.length);
    if (first) document.getElementById(inputId(first.name))?.focus();
    else summary.current?.focus();
  }, [fieldErrors, fields]);

  // When the conflict dialog closes (the form is no longer inert), return to Save.
  const hadConflict = useRef(false);
  useEffect(() => {
    if (conflict !== null) hadConflict.current = true;
    else if (hadConflict.current) {
      hadConflict.current = false;
      saveButton.current?.focus();
    }
  }, [conflict]);

  function change(name: string, value: InputValue) {
    setDraft((previous) => ({ ...previous, [name]: value }));
    setNotice(null);
  }

  async function submit(event: SubmitEvent<HTMLFormElement>) {
    event.preventDefault();
    if (saving || conflict) return;
    const patch = buildPatch(fields, base.record, draft);
    setFieldErrors(null);
    setFailure(null);
    if (Object.keys(patch).length === 0) {
      setNotice({ kind: "no-changes" });
      return;
    }
    setSaving(true);
    try {
      const saved = await api.updateRecord(object.name, base.record.id, patch, base.version);
      onSaved(saved);
    } catch (error) {
      if (!(error instanceof ApiProblem)) {
        setFailure(error);
        return;
      }
      const outcome = classifySaveProblem(error);
      if (outcome.kind === "conflict") {
        setConflict({ version: outcome.currentVersion });
      } else if (outcome.kind === "invalid") {
        setFieldErrors(fieldErrorsFrom(error, fields.map((f) => f.name)));
      } else if (outcome.kind === "failed") {
        setFailure(error);
      } // signed-out: the session ended and the router shows the sign-in page
    } finally {
      setSaving(false);
    }
  }

  async function loadTheirs() {
    if (reloading) return;
    setReloading(true);
    try {
      const latest = await api.record(object.name, base.record.id);
      const merged = reconcile(fields, base.record, latest.record, draft);
      setBase(latest);
      setDraft(merged.draft);
      setTheirs(merged.conflicts);
      setConflict(null);
      setNotice({ kind: "reloaded", version: latest.version });
      onReloaded(latest);
    } catch (error) {
      setConflict(null);
      setFailure(error);
    } finally {
      setReloading(false);
    }
  }

  const withheld = withheldFields(base.record);
  const title = recordTitle(object, base.record) ?? base.record.id;
  const general = fieldErrors?.general ?? [];

  return (
    <>
      <form
        className="edit-form"
        aria-labelledby={headingId}
        noValidate
        onSubmit={(event) => void submit(event)}
        inert={conflict !== null}
      >
        <h2 id={headingId}>{t("record.editHeading", { title })}</h2>
        {(general.length > 0 || failure !== null) && (
          <div ref={summary} tabIndex={-1} className="form-summary">
            {general.length > 0 && (
              <div className="problem" role="alert">
                <p className="problem-title">{t("record.notSaved")}</p>
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
        {notice?.kind === "no-changes" && (
          <p className="notice" role="status">
            {t("record.noChanges")}
          </p>
        )}
        {notice?.kind === "reloaded" && (
          <p className="notice" role="status">
            {t("record.conflict.loaded", { version: notice.version })}
          </p>
        )}
        {fields.map((field) => (
          <FieldInput
            key={field.name}
            field={field}
            value={draft[field.name] ?? ""}
            onChange={(value) => change(field.name, value)}
            errors={fieldErrors?.byField[field.name]}
            theirs={
              field.name in theirs
                ? formatValue(field, theirs[field.name], language, {
                    yes: t("common.yes"),
                    no: t("common.no"),
                  })
                : null
            }
          />
        ))}
        <div className="form-actions">
          <button ref={saveButton} type="submit" className="button button-primary" aria-disabled={saving}>
            {t("record.save")}
          </button>
          <button type="button" className="button" onClick={onCancel}>
            {t("record.cancel")}
          </button>
          {saving && (
            <span role="status" className="muted">
              {t("record.saving")}
            </span>
          )}
        </div>
        {readOnly.length > 0 && (
          <section aria-labelledby={`${headingId}-readonly`}>
            <h3 id={`${headingId}-readonly`}>{t("record.readOnly")}</h3>
            <dl className="fields">
              {readOnly.map((field) => {
                const cell = cellOf(base.record, field.name, withheld);
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
        )}
      </form>
      {conflict !== null && (
        <ConflictDialog
          version={conflict.version}
          busy={reloading}
          onReload={() => void loadTheirs()}
          onKeepEditing={() => setConflict(null)}
        />
      )}
    </>
  );
}
