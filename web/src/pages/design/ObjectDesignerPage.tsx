/**
 * The object & field designer (/design/objects/:name?), for users who may manage metadata:
 * every object (standard and custom), a form for a new custom object; for one object its
 * labels, fields (add, edit, delete; any of the 15 types), validation rules in CEL and its
 * change history. Every save sends the version it was made on (If-Match).
 */
import { useQueryClient } from "@tanstack/react-query";
import { useId, useState, type SubmitEvent } from "react";
import { useTranslation } from "react-i18next";
import { Link, useNavigate, useParams } from "react-router";
import { designKeys, useDefinition, useDesignApi, useHistory, type VersionedDefinition } from "../../api/design";
import { ApiProblem } from "../../api/problem";
import { queryKeys, useObjects } from "../../api/queries";
import type { ObjectDefinition } from "../../api/types";
import { ProblemMessage } from "../../components/ProblemMessage";
import { useDocumentTitle } from "../../components/useDocumentTitle";
import { useLanguage } from "../../components/useLanguage";
import {
  draftOfField,
  emptyField,
  fieldChanges,
  fieldPayload,
  nameFromLabel,
  placeErrors,
  rulesPayload,
} from "../../design/fields";
import { fieldLabel, objectLabel } from "../../records/fields";
import { useApi, useMe } from "../../session/SessionContext";
import { refreshMe } from "../../session/store";
import "../../styles/design.css";
import { FieldForm } from "./FieldForm";
import { RulesEditor } from "./RulesEditor";

export default function ObjectDesignerPage() {
  const { t } = useTranslation();
  const me = useMe();
  const { name } = useParams();
  useDocumentTitle(t("design.designer.heading"));
  if (!me.manage_metadata) {
    return (
      <>
        <h1>{t("design.designer.heading")}</h1>
        <p>{t("design.designer.notAllowed")}</p>
      </>
    );
  }
  return name ? <ObjectEditor key={name} name={name} /> : <ObjectList />;
}

function ObjectList() {
  const { t } = useTranslation();
  const language = useLanguage();
  const objects = useObjects();
  return (
    <div className="designer-grid">
      <h1>{t("design.designer.heading")}</h1>
      <section aria-labelledby="objects-heading">
        <h2 id="objects-heading">{t("design.designer.objects")}</h2>
        {objects.error && <ProblemMessage error={objects.error} />}
        {objects.data && (
          <div className="table-wrap">
            <table className="design-table">
              <caption>{t("design.designer.objectsCaption")}</caption>
              <thead>
                <tr>
                  <th scope="col">{t("design.designer.label")}</th>
                  <th scope="col">{t("design.designer.name")}</th>
                  <th scope="col">{t("design.designer.kind")}</th>
                  <th scope="col">{t("design.designer.fieldCount")}</th>
                </tr>
              </thead>
              <tbody>
                {[...objects.data]
                  .sort((a, b) => Number(a.standard) - Number(b.standard) || a.name.localeCompare(b.name))
                  .map((object) => (
                    <tr key={object.name}>
                      <th scope="row">
                        <Link to={`/design/objects/${object.name}`}>{objectLabel(object, language)}</Link>
                      </th>
                      <td>
                        <code>{object.name}</code>
                      </td>
                      <td>{object.standard ? t("design.designer.standard") : t("design.designer.custom")}</td>
                      <td>{object.fields.length}</td>
                    </tr>
                  ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
      <NewObjectForm />
    </div>
  );
}

function NewObjectForm() {
  const { t } = useTranslation();
  const api = useDesignApi();
  const session = useApi();
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const id = useId();
  const [values, setValues] = useState({ label: "", label_plural: "", label_zh: "", name: "" });
  const [nameTouched, setNameTouched] = useState(false);
  const [withName, setWithName] = useState(true);
  const [errors, setErrors] = useState<Record<string, string[]>>({});
  const [failure, setFailure] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const keys = ["label", "label_plural", "label_zh", "name"] as const;

  async function submit(event: SubmitEvent<HTMLFormElement>) {
    event.preventDefault();
    if (busy) return;
    setBusy(true);
    setErrors({});
    setFailure(null);
    const body: Record<string, unknown> = {
      name: values.name.trim(),
      label: values.label.trim(),
      label_plural: values.label_plural.trim() || values.label.trim(),
      label_zh: values.label_zh.trim() || null,
    };
    if (withName) {
      body.fields = [{ name: "name", type: "text", required: true, label: "Name", label_zh: "名称" }];
      body.title_field = "name";
    }
    try {
      const created = await api.createObject(body);
      queryClient.setQueryData(designKeys.object(created.definition.name), created);
      await queryClient.invalidateQueries({ queryKey: queryKeys.objects });
      // What the user may do on the new object: read it now, so its records area, "New"
      // button and navigation appear without signing in again.
      refreshMe(await session.me());
      void navigate(`/design/objects/${created.definition.name}`);
    } catch (error) {
      if (error instanceof ApiProblem && error.errors.length > 0) {
        const placed = placeErrors(error.errors, keys);
        setErrors(placed.byInput);
        if (placed.general.length) setFailure(error);
        const first = keys.find((k) => placed.byInput[k]);
        if (first) document.getElementById(`${id}-${first}`)?.focus();
      } else {
        setFailure(error);
      }
    } finally {
      setBusy(false);
    }
  }

  const input = (key: (typeof keys)[number], label: string, hint?: string) => (
    <div className="field">
      <label htmlFor={`${id}-${key}`}>{label}</label>
      <input
        id={`${id}-${key}`}
        value={values[key]}
        aria-invalid={errors[key] ? true : undefined}
        aria-describedby={
          [hint ? `${id}-${key}-hint` : "", errors[key] ? `${id}-${key}-error` : ""].filter(Boolean).join(" ") ||
          undefined
        }
        onChange={(event) => {
          const value = event.target.value;
          setValues((previous) => ({
            ...previous,
            [key]: value,
            ...(key === "label" && !nameTouched ? { name: nameFromLabel(value) } : {}),
          }));
          if (key === "name") setNameTouched(true);
        }}
      />
      {hint && (
        <p className="hint" id={`${id}-${key}-hint`}>
          {hint}
        </p>
      )}
      {errors[key] && (
        <p className="field-error" id={`${id}-${key}-error`}>
          {errors[key].join(" ")}
        </p>
      )}
    </div>
  );

  return (
    <section aria-labelledby={`${id}-heading`} className="designer-section">
      <h2 id={`${id}-heading`}>{t("design.designer.newObject")}</h2>
      <form className="field-form" noValidate onSubmit={(event) => void submit(event)}>
        {failure !== null && <ProblemMessage error={failure} />}
        {input("label", t("design.designer.label"))}
        {input("label_plural", t("design.designer.labelPlural"))}
        {input("label_zh", t("design.designer.labelZh"))}
        {input("name", t("design.designer.name"), t("design.designer.nameHint"))}
        <div className="field field-check">
          <input
            id={`${id}-with-name`}
            type="checkbox"
            checked={withName}
            onChange={(event) => {
              setWithName(event.target.checked);
            }}
          />
          <label htmlFor={`${id}-with-name`}>{t("design.designer.withNameField")}</label>
        </div>
        <div className="form-actions">
          <button type="submit" className="button button-primary" aria-disabled={busy}>
            {t("design.designer.create")}
          </button>
          {busy && (
            <span role="status" className="muted">
              {t("design.designer.creating")}
            </span>
          )}
        </div>
      </form>
    </section>
  );
}

function ObjectEditor({ name }: { name: string }) {
  const { t } = useTranslation();
  const language = useLanguage();
  const api = useDesignApi();
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const definition = useDefinition(name);
  const objects = useObjects();
  const [editing, setEditing] = useState<string | null>(null);
  const [adding, setAdding] = useState(0); // bumped to reset the add form after a save
  const [failure, setFailure] = useState<unknown>(null);

  if (definition.error) {
    return (
      <>
        <h1>{t("design.designer.heading")}</h1>
        <ProblemMessage error={definition.error} />
        <Link to="/design/objects">{t("design.designer.back")}</Link>
      </>
    );
  }
  if (!definition.data) return <p role="status">{t("common.loading")}</p>;
  const { definition: object, version } = definition.data;

  async function saved(next: VersionedDefinition) {
    queryClient.setQueryData(designKeys.object(name), next);
    await Promise.all([
      queryClient.invalidateQueries({ queryKey: queryKeys.objects }),
      queryClient.invalidateQueries({ queryKey: designKeys.history(name) }),
    ]);
  }

  async function deleteField(field: string) {
    if (!window.confirm(t("design.designer.confirmDeleteField", { name: field }))) return;
    setFailure(null);
    try {
      await saved(await api.deleteField(name, field, version));
    } catch (error) {
      setFailure(error);
    }
  }

  async function deleteObject() {
    if (!window.confirm(t("design.designer.confirmDeleteObject", { name }))) return;
    setFailure(null);
    try {
      await api.deleteObject(name);
      await queryClient.invalidateQueries({ queryKey: queryKeys.objects });
      void navigate("/design/objects");
    } catch (error) {
      setFailure(error);
    }
  }

  const targets = (objects.data ?? []).map((o) => ({ name: o.name, label: objectLabel(o, language) }));
  const title = objectLabel(object, language);

  return (
    <div className="designer-grid">
      <p>
        <Link to="/design/objects">{t("design.designer.back")}</Link>
      </p>
      <h1>
        {title} <code>{object.name}</code>
      </h1>
      {failure !== null && <ProblemMessage error={failure} />}
      <section aria-labelledby="details-heading" className="designer-section">
        <h2 id="details-heading">{t("design.designer.details")}</h2>
        <DetailsForm
          key={version}
          object={object}
          onSave={async (changes) => {
            await saved(await api.updateObject(name, changes, version));
          }}
        />
        {!object.standard && (
          <button type="button" className="button button-quiet" onClick={() => void deleteObject()}>
            {t("design.designer.deleteObject")}
          </button>
        )}
      </section>
      <section aria-labelledby="fields-heading" className="designer-section">
        <h2 id="fields-heading">{t("design.designer.fields")}</h2>
        <div className="table-wrap">
          <table className="design-table">
            <caption>{t("design.designer.fieldsCaption", { object: title })}</caption>
            <thead>
              <tr>
                <th scope="col">{t("design.designer.label")}</th>
                <th scope="col">{t("design.designer.name")}</th>
                <th scope="col">{t("design.designer.type")}</th>
                <th scope="col">{t("design.designer.flags")}</th>
                <th scope="col">{t("design.designer.edit")}</th>
              </tr>
            </thead>
            <tbody>
              {object.fields.map((field) => (
                <tr key={field.name}>
                  <th scope="row">{fieldLabel(field, language)}</th>
                  <td>
                    <code>{field.name}</code>
                  </td>
                  <td>
                    {t(`design.designer.types.${field.type}`)}
                    {field.target ? ` → ${field.target}` : ""}
                  </td>
                  <td>
                    {[
                      field.required ? t("design.designer.requiredFlag") : null,
                      field.unique ? t("design.designer.uniqueFlag") : null,
                      field.standard ? t("design.designer.standard") : t("design.designer.custom"),
                    ]
                      .filter(Boolean)
                      .join(", ")}
                  </td>
                  <td>
                    <button
                      type="button"
                      className="button button-quiet"
                      aria-label={`${t("design.designer.edit")} ${field.name}`}
                      onClick={() => {
                        setEditing(field.name);
                      }}
                    >
                      {t("design.designer.edit")}
                    </button>{" "}
                    {!field.standard && (
                      <button
                        type="button"
                        className="button button-quiet"
                        aria-label={`${t("design.designer.delete")} ${field.name}`}
                        onClick={() => void deleteField(field.name)}
                      >
                        {t("design.designer.delete")}
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        {editing !== null &&
          (() => {
            const field = object.fields.find((f) => f.name === editing);
            if (!field) return null;
            return (
              <section aria-labelledby="edit-field-heading">
                <h3 id="edit-field-heading">{t("design.designer.editField", { name: field.name })}</h3>
                <FieldForm
                  key={`${field.name}-${version}`}
                  initial={draftOfField(field)}
                  editing
                  objects={targets}
                  onCancel={() => {
                    setEditing(null);
                  }}
                  onSubmit={async (draft) => {
                    await saved(await api.updateField(name, field.name, fieldChanges(draft), version));
                    setEditing(null);
                  }}
                />
              </section>
            );
          })()}
        <section aria-labelledby="add-field-heading">
          <h3 id="add-field-heading">{t("design.designer.addField")}</h3>
          <FieldForm
            key={adding}
            initial={emptyField()}
            editing={false}
            objects={targets}
            onSubmit={async (draft) => {
              await saved(await api.addField(name, fieldPayload(draft), version));
              setAdding((n) => n + 1);
            }}
          />
        </section>
      </section>
      <section aria-labelledby="rules-heading" className="designer-section">
        <h2 id="rules-heading">{t("design.designer.rules")}</h2>
        <RulesEditor
          object={object}
          onSave={async (rules) => {
            await saved(await api.updateObject(name, { validation_rules: rulesPayload(rules) }, version));
          }}
        />
      </section>
      <History object={object} />
    </div>
  );
}

function DetailsForm({
  object,
  onSave,
}: {
  object: ObjectDefinition;
  onSave: (changes: Record<string, unknown>) => Promise<void>;
}) {
  const { t } = useTranslation();
  const language = useLanguage();
  const id = useId();
  const [values, setValues] = useState({
    label: object.label,
    label_plural: object.label_plural,
    label_zh: object.label_zh ?? "",
    title_field: object.title_field ?? "",
  });
  const [errors, setErrors] = useState<Record<string, string[]>>({});
  const [failure, setFailure] = useState<unknown>(null);
  const keys = ["label", "label_plural", "label_zh", "title_field"] as const;

  async function submit(event: SubmitEvent<HTMLFormElement>) {
    event.preventDefault();
    setErrors({});
    setFailure(null);
    try {
      await onSave({
        label: values.label,
        label_plural: values.label_plural,
        label_zh: values.label_zh.trim() || null,
        title_field: values.title_field || null,
      });
    } catch (error) {
      if (error instanceof ApiProblem && error.errors.length > 0) {
        const placed = placeErrors(error.errors, keys);
        setErrors(placed.byInput);
        if (placed.general.length) setFailure(error);
      } else {
        setFailure(error);
      }
    }
  }

  return (
    <form className="field-form" noValidate onSubmit={(event) => void submit(event)}>
      {failure !== null && <ProblemMessage error={failure} />}
      {(["label", "label_plural", "label_zh"] as const).map((key) => (
        <div className="field" key={key}>
          <label htmlFor={`${id}-${key}`}>
            {t(
              key === "label"
                ? "design.designer.label"
                : key === "label_plural"
                  ? "design.designer.labelPlural"
                  : "design.designer.labelZh",
            )}
          </label>
          <input
            id={`${id}-${key}`}
            value={values[key]}
            aria-invalid={errors[key] ? true : undefined}
            aria-describedby={errors[key] ? `${id}-${key}-error` : undefined}
            onChange={(event) => {
              setValues((previous) => ({ ...previous, [key]: event.target.value }));
            }}
          />
          {errors[key] && (
            <p className="field-error" id={`${id}-${key}-error`}>
              {errors[key].join(" ")}
            </p>
          )}
        </div>
      ))}
      <div className="field">
        <label htmlFor={`${id}-title`}>{t("design.designer.titleField")}</label>
        <select
          id={`${id}-title`}
          value={values.title_field}
          onChange={(event) => {
            setValues((previous) => ({ ...previous, title_field: event.target.value }));
          }}
        >
          <option value="">{t("design.designer.noTitle")}</option>
          {object.fields.map((field) => (
            <option key={field.name} value={field.name}>
              {fieldLabel(field, language)}
            </option>
          ))}
        </select>
        {errors.title_field && <p className="field-error">{errors.title_field.join(" ")}</p>}
      </div>
      <div className="form-actions">
        <button type="submit" className="button button-primary">
          {t("design.designer.saveDetails")}
        </button>
      </div>
    </form>
  );
}

function History({ object }: { object: ObjectDefinition }) {
  const { t, i18n } = useTranslation();
  const language = useLanguage();
  const history = useHistory(object.name);
  const title = objectLabel(object, language);
  return (
    <section aria-labelledby="history-heading" className="designer-section">
      <h2 id="history-heading">{t("design.designer.history")}</h2>
      {history.error && <ProblemMessage error={history.error} />}
      {history.data && (
        <div className="table-wrap">
          <table className="design-table">
            <caption>{t("design.designer.historyCaption", { object: title })}</caption>
            <thead>
              <tr>
                <th scope="col">{t("design.designer.version")}</th>
                <th scope="col">{t("design.designer.action")}</th>
                <th scope="col">{t("design.designer.at")}</th>
                <th scope="col">{t("design.designer.by")}</th>
              </tr>
            </thead>
            <tbody>
              {[...history.data].reverse().map((change) => (
                <tr key={change.version}>
                  <th scope="row">{change.version}</th>
                  <td>{change.summary}</td>
                  <td>{new Date(change.at).toLocaleString(i18n.language)}</td>
                  <td>{change.actor_id ?? "—"}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
