/**
 * /governance/roles: every role, and one role's editor (`?role=`): administration rights and,
 * per object, the actions (c/r/u/d), the records (scope) and the fields read, written and
 * hidden — field pickers from the runtime data model. Saving is PUT /roles/{name}; a refusal
 * (granting more than you hold) is shown at each grant it concerns, the draft kept.
 */
import { useQueryClient } from "@tanstack/react-query";
import { useId, useMemo, useState, type SubmitEvent } from "react";
import { useTranslation } from "react-i18next";
import { useSearchParams } from "react-router";
import { governanceKeys, useGovernance, useRoles } from "../../api/governance";
import { ApiProblem } from "../../api/problem";
import { useObjects } from "../../api/queries";
import type { ObjectDefinition } from "../../api/types";
import { ProblemMessage } from "../../components/ProblemMessage";
import { useLanguage } from "../../components/useLanguage";
import {
  ACTIONS,
  emptyRole,
  EVERY_OBJECT,
  grantDraft,
  ROLE_NAME,
  roleDraft,
  roleErrors,
  SCOPES,
  sortGrants,
  toggled,
  toPermissions,
  type GrantDraft,
  type RoleDraft,
  type RoleErrors,
} from "../../governance/roles";
import { useMe } from "../../session/SessionContext";
import { GovernanceFrame } from "./GovernanceFrame";

function FieldPicker({
  legend,
  fields,
  chosen,
  disabled,
  onChange,
}: {
  legend: string;
  fields: { name: string; label: string }[];
  chosen: string[];
  disabled: boolean;
  onChange: (chosen: string[]) => void;
}) {
  return (
    <fieldset className="gov-picker" disabled={disabled}>
      <legend className="gov-visually-hidden">{legend}</legend>
      {fields.map((field) => (
        <label key={field.name} className="check">
          <input
            type="checkbox"
            checked={chosen.includes(field.name)}
            onChange={(event) => onChange(toggled(chosen, field.name, event.target.checked))}
          />
          {field.label}
        </label>
      ))}
    </fieldset>
  );
}

function FieldChoice({
  legend,
  all,
  chosen,
  fields,
  disabled,
  onChange,
}: {
  legend: string;
  all: boolean;
  chosen: string[];
  fields: { name: string; label: string }[];
  disabled: boolean;
  onChange: (all: boolean, chosen: string[]) => void;
}) {
  const { t } = useTranslation();
  const name = useId();
  return (
    <fieldset className="gov-inline" disabled={disabled}>
      <legend>{legend}</legend>
      <label className="check">
        <input type="radio" name={name} checked={all} onChange={() => onChange(true, chosen)} />
        {t("governance.roles.allFields")}
      </label>
      <label className="check">
        <input type="radio" name={name} checked={!all} onChange={() => onChange(false, chosen)} />
        {t("governance.roles.onlyThese")}
      </label>
      {!all &&
        (fields.length ? (
          <FieldPicker legend={legend} fields={fields} chosen={chosen} disabled={disabled} onChange={(c) => onChange(false, c)} />
        ) : (
          <p className="hint">{chosen.join(", ") || t("governance.roles.noFields")}</p>
        ))}
    </fieldset>
  );
}

function GrantEditor({
  grant,
  label,
  fields,
  errors,
  editable,
  onChange,
  onRemove,
}: {
  grant: GrantDraft;
  label: string;
  fields: { name: string; label: string }[];
  errors: string[];
  editable: boolean;
  onChange: (grant: GrantDraft) => void;
  onRemove: () => void;
}) {
  const { t } = useTranslation();
  const scopeId = useId();
  const errorId = useId();
  const legend = t("governance.roles.grantFor", { object: label });
  return (
    <fieldset
      className={`gov-grant${errors.length ? " gov-grant-invalid" : ""}`}
      aria-describedby={errors.length ? errorId : undefined}
      aria-invalid={errors.length ? true : undefined}
    >
      <legend>{legend}</legend>
      {errors.length > 0 && (
        <ul id={errorId} className="field-error">
          {errors.map((message) => (
            <li key={message}>{message}</li>
          ))}
        </ul>
      )}
      <fieldset className="gov-inline" disabled={!editable}>
        <legend>{t("governance.roles.actions")}</legend>
        {ACTIONS.map((action) => (
          <label key={action} className="check">
            <input
              type="checkbox"
              checked={grant.actions.includes(action)}
              onChange={(event) => onChange({ ...grant, actions: toggled(grant.actions, action, event.target.checked) })}
            />
            {t(`governance.roles.action.${action}`)}
          </label>
        ))}
      </fieldset>
      <div className="field">
        <label htmlFor={scopeId}>{t("governance.roles.scope")}</label>
        <select
          id={scopeId}
          value={grant.scope}
          disabled={!editable}
          onChange={(event) => onChange({ ...grant, scope: event.target.value as GrantDraft["scope"] })}
        >
          {SCOPES.map((scope) => (
            <option key={scope} value={scope}>
              {t(`governance.roles.scopes.${scope}`)}
            </option>
          ))}
        </select>
      </div>
      <FieldChoice
        legend={t("governance.roles.readFields")}
        all={grant.readAll}
        chosen={grant.read}
        fields={fields}
        disabled={!editable}
        onChange={(all, read) => onChange({ ...grant, readAll: all, read })}
      />
      <FieldChoice
        legend={t("governance.roles.writeFields")}
        all={grant.writeAll}
        chosen={grant.write}
        fields={fields}
        disabled={!editable}
        onChange={(all, write) => onChange({ ...grant, writeAll: all, write })}
      />
      {fields.length > 0 && (
        <fieldset className="gov-inline" disabled={!editable}>
          <legend>{t("governance.roles.hiddenFields")}</legend>
          <FieldPicker
            legend={t("governance.roles.hiddenFields")}
            fields={fields}
            chosen={grant.hidden}
            disabled={!editable}
            onChange={(hidden) => onChange({ ...grant, hidden })}
          />
        </fieldset>
      )}
      {editable && (
        <button type="button" className="button button-quiet" onClick={onRemove}>
          {t("governance.roles.removeGrant", { object: label })}
        </button>
      )}
    </fieldset>
  );
}

function RoleEditor({
  initial,
  objects,
  editable,
  onClose,
}: {
  initial: RoleDraft;
  objects: ObjectDefinition[];
  editable: boolean;
  onClose: () => void;
}) {
  const { t } = useTranslation();
  const language = useLanguage();
  const calls = useGovernance();
  const queryClient = useQueryClient();
  const descriptionId = useId();
  const addId = useId();
  const [draft, setDraft] = useState(initial);
  const [adding, setAdding] = useState("");
  const [saving, setSaving] = useState(false);
  const [saved, setSaved] = useState(false);
  const [errors, setErrors] = useState<RoleErrors | null>(null);
  const [failure, setFailure] = useState<unknown>(null);

  const labelOf = (name: string) => {
    if (name === EVERY_OBJECT) return t("governance.roles.everyObject");
    const object = objects.find((o) => o.name === name);
    return (language === "zh-CN" ? object?.label_zh : null) ?? object?.label ?? name;
  };
  const fieldsOf = (name: string) =>
    (objects.find((o) => o.name === name)?.fields ?? []).map((field) => ({
      name: field.name,
      label: (language === "zh-CN" ? field.label_zh : null) ?? field.label ?? field.name,
    }));
  const granted = new Set(draft.grants.map((g) => g.object));
  const addable = [EVERY_OBJECT, ...objects.map((o) => o.name)].filter((name) => !granted.has(name));

  const change = (next: RoleDraft) => {
    setDraft(next);
    setSaved(false);
  };

  const submit = async (event: SubmitEvent<HTMLFormElement>) => {
    event.preventDefault();
    setSaving(true);
    setErrors(null);
    setFailure(null);
    try {
      await calls.saveRole(draft.name, draft.description, toPermissions(draft));
      setSaved(true);
      await queryClient.invalidateQueries({ queryKey: governanceKeys.roles });
    } catch (problem) {
      if (problem instanceof ApiProblem && problem.status !== 0) setErrors(roleErrors(problem));
      else setFailure(problem);
    } finally {
      setSaving(false);
    }
  };

  return (
    <section className="gov-panel" aria-labelledby="gov-role-heading">
      <h2 id="gov-role-heading">{t("governance.roles.editing", { name: draft.name })}</h2>
      {!editable && <p className="hint">{t("governance.roles.readOnly")}</p>}
      <form onSubmit={(event) => void submit(event)} noValidate>
        {errors && (
          <div className="problem" role="alert">
            <p className="problem-title">{t("governance.roles.notSaved")}</p>
            {errors.general.map((message) => (
              <p key={message}>{message}</p>
            ))}
          </div>
        )}
        {failure !== null && <ProblemMessage error={failure} />}
        <div className="field">
          <label htmlFor={descriptionId}>{t("governance.roles.description")}</label>
          <input
            id={descriptionId}
            value={draft.description}
            disabled={!editable}
            onChange={(event) => change({ ...draft, description: event.target.value })}
          />
        </div>
        <fieldset className="gov-inline" disabled={!editable}>
          <legend>{t("governance.roles.rights")}</legend>
          <label className="check">
            <input
              type="checkbox"
              checked={draft.manageMetadata}
              aria-invalid={errors?.manageMetadata.length ? true : undefined}
              onChange={(event) => change({ ...draft, manageMetadata: event.target.checked })}
            />
            {t("governance.roles.manageMetadata")}
          </label>
          {errors?.manageMetadata.map((m) => (
            <p key={m} className="field-error">
              {m}
            </p>
          ))}
          <label className="check">
            <input
              type="checkbox"
              checked={draft.manageUsers}
              aria-invalid={errors?.manageUsers.length ? true : undefined}
              onChange={(event) => change({ ...draft, manageUsers: event.target.checked })}
            />
            {t("governance.roles.manageUsers")}
          </label>
          {errors?.manageUsers.map((m) => (
            <p key={m} className="field-error">
              {m}
            </p>
          ))}
        </fieldset>
        <h3>{t("governance.roles.grants")}</h3>
        {draft.grants.map((grant, position) => (
          <GrantEditor
            key={grant.object}
            grant={grant}
            label={labelOf(grant.object)}
            fields={grant.object === EVERY_OBJECT ? [] : fieldsOf(grant.object)}
            errors={errors?.grants[grant.object] ?? []}
            editable={editable}
            onChange={(next) => change({ ...draft, grants: draft.grants.map((g, i) => (i === position ? next : g)) })}
            onRemove={() => change({ ...draft, grants: draft.grants.filter((_, i) => i !== position) })}
          />
        ))}
        {editable && addable.length > 0 && (
          <div className="field field-inline">
            <label htmlFor={addId}>{t("governance.roles.addGrant")}</label>
            <select id={addId} value={adding} onChange={(event) => setAdding(event.target.value)}>
              <option value="" />
              {addable.map((name) => (
                <option key={name} value={name}>
                  {labelOf(name)}
                </option>
              ))}
            </select>
            <button
              type="button"
              className="button"
              disabled={adding === ""}
              onClick={() => {
                change({ ...draft, grants: sortGrants([...draft.grants, grantDraft(adding)]) });
                setAdding("");
              }}
            >
              {t("governance.roles.add")}
            </button>
          </div>
        )}
        <div className="form-actions">
          {editable && (
            <button type="submit" className="button button-primary" disabled={saving}>
              {saving ? t("governance.roles.saving") : t("governance.roles.save")}
            </button>
          )}
          <button type="button" className="button button-quiet" onClick={onClose}>
            {t("governance.roles.cancel")}
          </button>
          {saved && (
            <span className="notice" role="status">
              {t("governance.roles.saved", { name: draft.name })}
            </span>
          )}
        </div>
      </form>
    </section>
  );
}

function Roles() {
  const { t } = useTranslation();
  const me = useMe();
  const roles = useRoles();
  const objects = useObjects();
  const [params, setParams] = useSearchParams();
  const [newName, setNewName] = useState("");
  const [fresh, setFresh] = useState<RoleDraft | null>(null);
  const newId = useId();
  const hintId = useId();
  const selected = params.get("role");
  const role = roles.data?.find((r) => r.name === selected);
  const initial = useMemo(() => (role ? roleDraft(role) : fresh?.name === selected ? fresh : null), [role, fresh, selected]);
  const editable = me.manage_users;
  const open = (name: string | null) =>
    setParams((current) => {
      const next = new URLSearchParams(current);
      if (name === null) next.delete("role");
      else next.set("role", name);
      return next;
    });
  const nameValid = ROLE_NAME.test(newName) && !roles.data?.some((r) => r.name === newName);

  return (
    <div className="gov-columns">
      <section aria-labelledby="gov-roles-heading">
        <h2 id="gov-roles-heading" className="gov-visually-hidden">
          {t("governance.roles.caption")}
        </h2>
        {roles.error && <ProblemMessage error={roles.error} />}
        {roles.isPending && <p role="status">{t("common.loading")}</p>}
        {roles.data && (
          <div className="table-wrap">
            <table>
              <caption>{t("governance.roles.caption")}</caption>
              <thead>
                <tr>
                  <th scope="col">{t("governance.roles.name")}</th>
                  <th scope="col">{t("governance.roles.description")}</th>
                  <th scope="col">{t("governance.roles.rights")}</th>
                </tr>
              </thead>
              <tbody>
                {roles.data.map((r) => (
                  <tr key={r.name} aria-current={r.name === selected ? "true" : undefined}>
                    <td>
                      <button type="button" className="button button-quiet" onClick={() => open(r.name)}>
                        {t(editable ? "governance.roles.edit" : "governance.roles.view", { name: r.name })}
                      </button>
                      {r.builtin && <span className="hint"> ({t("governance.roles.builtin")})</span>}
                    </td>
                    <td>{r.description}</td>
                    <td>
                      {[
                        r.permissions.manage_users ? t("governance.roles.manageUsers") : null,
                        r.permissions.manage_metadata ? t("governance.roles.manageMetadata") : null,
                      ]
                        .filter(Boolean)
                        .join("; ") || t("common.none")}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        {editable && (
          <form
            className="gov-panel"
            onSubmit={(event) => {
              event.preventDefault();
              if (!nameValid) return;
              setFresh(emptyRole(newName));
              open(newName);
              setNewName("");
            }}
          >
            <h3>{t("governance.roles.newRole")}</h3>
            <div className="field">
              <label htmlFor={newId}>{t("governance.roles.newName")}</label>
              <input
                id={newId}
                value={newName}
                aria-describedby={hintId}
                aria-invalid={newName !== "" && !nameValid ? true : undefined}
                onChange={(event) => setNewName(event.target.value)}
              />
              <span id={hintId} className="hint">
                {t("governance.roles.newNameHint")}
              </span>
            </div>
            <button type="submit" className="button" disabled={!nameValid}>
              {t("governance.roles.create")}
            </button>
          </form>
        )}
      </section>
      <div>
        {objects.error && <ProblemMessage error={objects.error} />}
        {initial && (
          <RoleEditor
            key={initial.name}
            initial={initial}
            objects={objects.data ?? []}
            editable={editable}
            onClose={() => open(null)}
          />
        )}
      </div>
    </div>
  );
}

export default function RolesPage() {
  const { t } = useTranslation();
  return (
    <GovernanceFrame section="roles" title={t("governance.roles.heading")}>
      <p className="gov-intro">{t("governance.roles.intro")}</p>
      <Roles />
    </GovernanceFrame>
  );
}
