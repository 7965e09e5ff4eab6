/**
 * /governance/users: for user administrators, the users (search), creating a person or a
 * service principal, and one user's access (`?user=`): roles, deactivation, a temporary
 * password, their API keys. Everyone here manages their own API keys.
 */
import { useQueryClient } from "@tanstack/react-query";
import { useId, useState, type SubmitEvent } from "react";
import { useTranslation } from "react-i18next";
import { useSearchParams } from "react-router";
import { governanceKeys, useGovernance, useRoles, useUsers, type UserSummary } from "../../api/governance";
import { ApiProblem, fieldErrorsFrom, type FieldErrors } from "../../api/problem";
import { ProblemMessage } from "../../components/ProblemMessage";
import { toggled } from "../../governance/roles";
import { useMe } from "../../session/SessionContext";
import { ApiKeys } from "./ApiKeys";
import { GovernanceFrame } from "./GovernanceFrame";

function Problems({ errors, id }: { errors: string[] | undefined; id: string }) {
  if (!errors?.length) return null;
  return (
    <p id={id} className="field-error">
      {errors.join(" ")}
    </p>
  );
}

function RolePicker({
  legend,
  chosen,
  onChange,
  errors,
}: {
  legend: string;
  chosen: string[];
  onChange: (roles: string[]) => void;
  errors?: string[];
}) {
  const roles = useRoles();
  const errorId = useId();
  return (
    <fieldset className="field gov-inline" aria-describedby={errors?.length ? errorId : undefined}>
      <legend>{legend}</legend>
      {(roles.data ?? []).map((role) => (
        <label key={role.name} className="check">
          <input
            type="checkbox"
            checked={chosen.includes(role.name)}
            onChange={(event) => onChange(toggled(chosen, role.name, event.target.checked))}
          />
          {role.name}
        </label>
      ))}
      <Problems errors={errors} id={errorId} />
    </fieldset>
  );
}

function CreateUser() {
  const { t } = useTranslation();
  const calls = useGovernance();
  const queryClient = useQueryClient();
  const ids = { email: useId(), name: useId(), password: useId(), hint: useId(), errors: useId() };
  const [kind, setKind] = useState<"person" | "service">("person");
  const [email, setEmail] = useState("");
  const [name, setName] = useState("");
  const [password, setPassword] = useState("");
  const [roles, setRoles] = useState<string[]>(["sales"]);
  const [busy, setBusy] = useState(false);
  const [errors, setErrors] = useState<FieldErrors | null>(null);
  const [failure, setFailure] = useState<unknown>(null);
  const [created, setCreated] = useState<string | null>(null);

  const submit = async (event: SubmitEvent<HTMLFormElement>) => {
    event.preventDefault();
    setBusy(true);
    setErrors(null);
    setFailure(null);
    setCreated(null);
    try {
      const user = await calls.createUser({
        email,
        name,
        kind,
        roles,
        ...(kind === "person" ? { password } : {}),
      });
      setCreated(user.name || name);
      setEmail("");
      setName("");
      setPassword("");
      await queryClient.invalidateQueries({ queryKey: governanceKeys.allUsers });
    } catch (problem) {
      if (problem instanceof ApiProblem && problem.status !== 0) {
        setErrors(fieldErrorsFrom(problem, ["email", "name", "password", "roles"]));
      } else setFailure(problem);
    } finally {
      setBusy(false);
    }
  };

  const invalid = (field: string) => (errors?.byField[field]?.length ? true : undefined);
  return (
    <section className="gov-panel" aria-labelledby="gov-create-user">
      <h2 id="gov-create-user">{t("governance.users.create.heading")}</h2>
      <form onSubmit={(event) => void submit(event)} noValidate>
        {errors && errors.general.length > 0 && (
          <div className="problem" role="alert">
            <p className="problem-title">{t("governance.users.create.notCreated")}</p>
            {errors.general.map((message) => (
              <p key={message}>{message}</p>
            ))}
          </div>
        )}
        {failure !== null && <ProblemMessage error={failure} />}
        <fieldset className="field gov-inline">
          <legend>{t("governance.users.create.kind")}</legend>
          <label className="check">
            <input type="radio" name="gov-kind" checked={kind === "person"} onChange={() => setKind("person")} />
            {t("governance.users.create.person")}
          </label>
          <label className="check">
            <input type="radio" name="gov-kind" checked={kind === "service"} onChange={() => setKind("service")} />
            {t("governance.users.create.service")}
          </label>
        </fieldset>
        <div className="field">
          <label htmlFor={ids.email}>{t("governance.users.create.email")}</label>
          <input
            id={ids.email}
            type="email"
            value={email}
            aria-invalid={invalid("email")}
            aria-describedby={invalid("email") ? `${ids.errors}-email` : undefined}
            onChange={(event) => setEmail(event.target.value)}
          />
          <Problems errors={errors?.byField.email} id={`${ids.errors}-email`} />
        </div>
        <div className="field">
          <label htmlFor={ids.name}>{t("governance.users.create.name")}</label>
          <input
            id={ids.name}
            value={name}
            aria-invalid={invalid("name")}
            aria-describedby={invalid("name") ? `${ids.errors}-name` : undefined}
            onChange={(event) => setName(event.target.value)}
          />
          <Problems errors={errors?.byField.name} id={`${ids.errors}-name`} />
        </div>
        {kind === "person" && (
          <div className="field">
            <label htmlFor={ids.password}>{t("governance.users.create.password")}</label>
            <input
              id={ids.password}
              type="password"
              autoComplete="new-password"
              value={password}
              aria-invalid={invalid("password")}
              aria-describedby={`${ids.hint}${invalid("password") ? ` ${ids.errors}-password` : ""}`}
              onChange={(event) => setPassword(event.target.value)}
            />
            <span id={ids.hint} className="hint">
              {t("governance.users.create.passwordHint")}
            </span>
            <Problems errors={errors?.byField.password} id={`${ids.errors}-password`} />
          </div>
        )}
        <RolePicker legend={t("governance.users.create.roles")} chosen={roles} onChange={setRoles} errors={errors?.byField.roles} />
        <button type="submit" className="button button-primary" disabled={busy}>
          {t("governance.users.create.submit")}
        </button>
        {created && (
          <p className="notice" role="status">
            {t("governance.users.create.created", { name: created })}
          </p>
        )}
      </form>
    </section>
  );
}

function UserAccess({ user, onChanged, onClose }: { user: UserSummary; onChanged: (user: UserSummary) => void; onClose: () => void }) {
  const { t } = useTranslation();
  const calls = useGovernance();
  const queryClient = useQueryClient();
  const passwordId = useId();
  const passwordErrorId = useId();
  const label = user.name ?? user.email ?? user.id;
  const [roles, setRoles] = useState(user.roles);
  const [roleErrors, setRoleErrors] = useState<string[]>([]);
  const [confirming, setConfirming] = useState(false);
  const [password, setPassword] = useState("");
  const [passwordErrors, setPasswordErrors] = useState<string[]>([]);
  const [notice, setNotice] = useState<string | null>(null);
  const [failure, setFailure] = useState<unknown>(null);

  const run = async (action: () => Promise<string>, place?: (problem: ApiProblem) => boolean) => {
    setNotice(null);
    setFailure(null);
    try {
      setNotice(await action());
      await queryClient.invalidateQueries({ queryKey: governanceKeys.allUsers });
    } catch (problem) {
      if (!(problem instanceof ApiProblem && place?.(problem))) setFailure(problem);
    }
  };

  const saveRoles = () =>
    run(
      async () => {
        setRoleErrors([]);
        onChanged(await calls.updateUser(user.id, { roles }, user.version));
        return t("governance.users.detail.rolesSaved");
      },
      (problem) => {
        const placed = fieldErrorsFrom(problem, ["roles"]).byField.roles;
        if (placed) setRoleErrors([problem.detail, ...placed]);
        return placed !== undefined;
      },
    );
  const setActive = (active: boolean) =>
    run(async () => {
      onChanged(await calls.updateUser(user.id, { active }, user.version));
      setConfirming(false);
      return t(active ? "governance.users.detail.activated" : "governance.users.detail.deactivated", { name: label });
    });
  const reset = (event: SubmitEvent<HTMLFormElement>) => {
    event.preventDefault();
    void run(
      async () => {
        setPasswordErrors([]);
        await calls.resetPassword(user.id, password);
        setPassword("");
        return t("governance.users.detail.resetDone", { name: label });
      },
      (problem) => {
        const placed = fieldErrorsFrom(problem, ["password"]).byField.password;
        if (placed) setPasswordErrors(placed);
        return placed !== undefined;
      },
    );
  };

  return (
    <section className="gov-panel" aria-labelledby="gov-user-heading">
      <h2 id="gov-user-heading">{t("governance.users.detail.heading", { name: label })}</h2>
      <p className="gov-mono">{user.email ?? t("governance.users.withheld")}</p>
      {notice && (
        <p className="notice" role="status">
          {notice}
        </p>
      )}
      {failure !== null && <ProblemMessage error={failure} />}
      <RolePicker legend={t("governance.users.detail.roles")} chosen={roles} onChange={setRoles} errors={roleErrors} />
      <div className="gov-actions">
        <button type="button" className="button" onClick={() => void saveRoles()}>
          {t("governance.users.detail.saveRoles")}
        </button>
        {user.active ? (
          !confirming && (
            <button type="button" className="button" onClick={() => setConfirming(true)}>
              {t("governance.users.detail.deactivate")}
            </button>
          )
        ) : (
          <button type="button" className="button" onClick={() => void setActive(true)}>
            {t("governance.users.detail.activate")}
          </button>
        )}
        <button type="button" className="button button-quiet" onClick={onClose}>
          {t("governance.users.detail.close")}
        </button>
      </div>
      {confirming && (
        <div className="gov-confirm" role="group" aria-label={t("governance.users.detail.deactivate")}>
          <p>{t("governance.users.detail.confirmDeactivate", { name: label })}</p>
          <button type="button" className="button button-primary" onClick={() => void setActive(false)}>
            {t("governance.users.detail.confirm")}
          </button>{" "}
          <button type="button" className="button button-quiet" onClick={() => setConfirming(false)}>
            {t("governance.users.detail.cancel")}
          </button>
        </div>
      )}
      <ApiKeys userId={user.id} heading={t("governance.users.detail.keys", { name: label })} forOther />
      {user.kind === "person" && (
        <form onSubmit={reset} noValidate>
          <h3>{t("governance.users.detail.reset")}</h3>
          <div className="field">
            <label htmlFor={passwordId}>{t("governance.users.detail.newPassword")}</label>
            <input
              id={passwordId}
              type="password"
              autoComplete="new-password"
              value={password}
              aria-invalid={passwordErrors.length ? true : undefined}
              aria-describedby={passwordErrors.length ? passwordErrorId : undefined}
              onChange={(event) => setPassword(event.target.value)}
            />
            <Problems errors={passwordErrors} id={passwordErrorId} />
          </div>
          <button type="submit" className="button">
            {t("governance.users.detail.resetSubmit")}
          </button>
        </form>
      )}
    </section>
  );
}

function UserState({ user }: { user: UserSummary }) {
  const { t, i18n } = useTranslation();
  const parts: string[] = [user.active ? t("governance.users.active") : t("governance.users.inactive")];
  if (user.locked_until) {
    parts.push(t("governance.users.lockedUntil", { time: new Date(user.locked_until).toLocaleString(i18n.language) }));
  }
  if (!user.has_password && user.kind === "person") parts.push(t("governance.users.noPassword"));
  return <>{parts.join(" · ")}</>;
}

function Users() {
  const { t } = useTranslation();
  const searchId = useId();
  const hintId = useId();
  const [search, setSearch] = useState("");
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const cursor = cursors.at(-1) ?? null;
  const users = useUsers(search, cursor);
  const [params, setParams] = useSearchParams();
  const [chosen, setChosen] = useState<UserSummary | null>(null);
  const selectedId = params.get("user");
  const selected =
    (chosen?.id === selectedId ? chosen : null) ?? users.data?.data.find((u) => u.id === selectedId) ?? null;
  const open = (user: UserSummary | null) => {
    setChosen(user);
    setParams((current) => {
      const next = new URLSearchParams(current);
      if (user) next.set("user", user.id);
      else next.delete("user");
      return next;
    });
  };

  return (
    <div className="gov-columns">
      <section aria-labelledby="gov-users-heading">
        <h2 id="gov-users-heading">{t("governance.users.caption")}</h2>
        <div className="field">
          <label htmlFor={searchId}>{t("governance.users.search")}</label>
          <input
            id={searchId}
            type="search"
            value={search}
            aria-describedby={hintId}
            onChange={(event) => {
              setSearch(event.target.value);
              setCursors([null]);
            }}
          />
          <span id={hintId} className="hint">
            {t("governance.users.searchHint")}
          </span>
        </div>
        {users.error && <ProblemMessage error={users.error} />}
        {users.data && users.data.data.length === 0 && <p>{t("governance.users.none")}</p>}
        {users.data && users.data.data.length > 0 && (
          <div className="table-wrap">
            <table>
              <caption className="gov-visually-hidden">{t("governance.users.caption")}</caption>
              <thead>
                <tr>
                  <th scope="col">{t("governance.users.name")}</th>
                  <th scope="col">{t("governance.users.email")}</th>
                  <th scope="col">{t("governance.users.kind")}</th>
                  <th scope="col">{t("governance.users.roles")}</th>
                  <th scope="col">{t("governance.users.state")}</th>
                </tr>
              </thead>
              <tbody>
                {users.data.data.map((user) => (
                  <tr key={user.id} aria-current={user.id === selectedId ? "true" : undefined}>
                    <td>
                      <button
                        type="button"
                        className="button button-quiet"
                        aria-label={t("governance.users.manage", { name: user.name ?? user.email ?? user.id })}
                        onClick={() => open(user)}
                      >
                        {user.name ?? t("governance.users.withheld")}
                      </button>
                    </td>
                    <td>{user.email ?? <span className="withheld">{t("governance.users.withheld")}</span>}</td>
                    <td>{t(`governance.users.kinds.${user.kind}`)}</td>
                    <td>{user.roles.join(", ")}</td>
                    <td>
                      <UserState user={user} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        <div className="pager">
          <button
            type="button"
            className="button"
            disabled={cursors.length < 2}
            onClick={() => setCursors((list) => list.slice(0, -1))}
          >
            {t("governance.ledger.previous")}
          </button>
          <button
            type="button"
            className="button"
            disabled={!users.data?.next_cursor}
            onClick={() => setCursors((list) => [...list, users.data?.next_cursor ?? null])}
          >
            {t("governance.ledger.next")}
          </button>
        </div>
        <CreateUser />
      </section>
      <div>
        {selected && <UserAccess key={selected.id} user={selected} onChanged={setChosen} onClose={() => open(null)} />}
      </div>
    </div>
  );
}

export default function UsersPage() {
  const { t } = useTranslation();
  const me = useMe();
  return (
    <GovernanceFrame section="users" title={t("governance.users.heading")}>
      {me.manage_users && <Users />}
      <ApiKeys userId={me.id} heading={t("governance.keys.own")} forOther={false} />
    </GovernanceFrame>
  );
}
