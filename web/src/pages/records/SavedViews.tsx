import { useEffect, useId, useRef, useState, type SubmitEvent } from "react";
import { useTranslation } from "react-i18next";
import { ApiProblem, fieldErrorsFrom } from "../../api/problem";
import { useSavedViews, useViewMutations, type SavedView, type ViewFilter } from "../../api/workspace";
import { ProblemMessage } from "../../components/ProblemMessage";
import { useMe } from "../../session/SessionContext";

export interface ListState {
  filters: ViewFilter[];
  sort: string | null;
  columns: string[];
}

type Mode = { kind: "idle" } | { kind: "save" } | { kind: "rename" } | { kind: "delete" };

/**
 * Pick a saved view of the object (yours and those shared with your roles), save the current
 * filters, sort and columns as a new one (private or shared with one of your roles), update,
 * rename or delete your own. Server-side: /api/v1/views.
 */
export function SavedViews({
  object,
  selected,
  state,
  onApply,
}: {
  object: string;
  selected: string | null;
  state: ListState;
  onApply: (view: SavedView | null) => void;
}) {
  const { t } = useTranslation();
  const me = useMe();
  const id = useId();
  const views = useSavedViews(object);
  const { create, update, remove } = useViewMutations(object);
  const [mode, setMode] = useState<Mode>({ kind: "idle" });
  const [name, setName] = useState("");
  const [share, setShare] = useState("");
  const [nameError, setNameError] = useState<string[] | null>(null);
  const [failure, setFailure] = useState<unknown>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const current = views.data?.find((v) => v.id === selected) ?? null;

  // A view named in the address (a link, a reload): apply it once it is loaded.
  const applied = useRef<string | null>(null);
  useEffect(() => {
    if (current && applied.current !== current.id) {
      applied.current = current.id;
      onApply(current);
    }
  }, [current, onApply]);

  function reset(message: string | null) {
    setMode({ kind: "idle" });
    setNameError(null);
    setFailure(null);
    setNotice(message);
  }

  function refused(error: unknown) {
    if (error instanceof ApiProblem && error.status === 422) {
      const placed = fieldErrorsFrom(error, ["name", "shared_role"]);
      setNameError([...(placed.byField.name ?? []), ...(placed.byField.shared_role ?? [])]);
      if (placed.general.length > 0) setFailure(error);
    } else {
      setFailure(error);
    }
  }

  async function submit(event: SubmitEvent<HTMLFormElement>) {
    event.preventDefault();
    setNameError(null);
    setFailure(null);
    try {
      if (mode.kind === "save") {
        const saved = await create.mutateAsync({
          object,
          name,
          filters: state.filters.filter((f) => f.value.trim() !== ""),
          sort: state.sort,
          columns: state.columns,
          shared_role: share || null,
        });
        applied.current = saved.id;
        onApply(saved);
        reset(t("workspace.views.saved", { name: saved.name }));
      } else if (mode.kind === "rename" && current) {
        const saved = await update.mutateAsync({ id: current.id, body: { name } });
        reset(t("workspace.views.updated", { name: saved.name }));
      }
    } catch (error) {
      refused(error);
    }
  }

  async function saveChanges() {
    if (!current) return;
    setFailure(null);
    try {
      const saved = await update.mutateAsync({
        id: current.id,
        body: {
          filters: state.filters.filter((f) => f.value.trim() !== ""),
          sort: state.sort,
          columns: state.columns,
        },
      });
      reset(t("workspace.views.updated", { name: saved.name }));
    } catch (error) {
      refused(error);
    }
  }

  async function confirmDelete() {
    if (!current) return;
    try {
      await remove.mutateAsync(current.id);
      applied.current = null;
      onApply(null);
      reset(t("workspace.views.deleted", { name: current.name }));
    } catch (error) {
      setFailure(error);
    }
  }

  const errorId = `${id}-name-error`;
  return (
    <div className="saved-views">
      <div className="toolbar">
        <div className="field field-inline">
          <label htmlFor={`${id}-pick`}>{t("workspace.views.label")}</label>
          <select
            id={`${id}-pick`}
            value={current?.id ?? ""}
            onChange={(event) => {
              const view = views.data?.find((v) => v.id === event.target.value) ?? null;
              applied.current = view?.id ?? null;
              reset(null);
              onApply(view);
            }}
          >
            <option value="">{t("workspace.views.none")}</option>
            {(views.data ?? []).map((view) => (
              <option key={view.id} value={view.id}>
                {view.mine ? view.name : t("workspace.views.shared", { name: view.name })}
              </option>
            ))}
          </select>
        </div>
        <button
          type="button"
          className="button"
          aria-expanded={mode.kind === "save"}
          onClick={() => {
            setName("");
            setShare("");
            setMode({ kind: "save" });
          }}
        >
          {t("workspace.views.save")}
        </button>
        {current?.mine && (
          <>
            <button type="button" className="button" onClick={() => void saveChanges()}>
              {t("workspace.views.update")}
            </button>
            <button
              type="button"
              className="button"
              aria-expanded={mode.kind === "rename"}
              onClick={() => {
                setName(current.name);
                setMode({ kind: "rename" });
              }}
            >
              {t("workspace.views.rename")}
            </button>
            <button
              type="button"
              className="button"
              aria-expanded={mode.kind === "delete"}
              onClick={() => setMode({ kind: "delete" })}
            >
              {t("workspace.views.delete")}
            </button>
          </>
        )}
        {current && !current.mine && <span className="muted">{t("workspace.views.notMine")}</span>}
      </div>
      {views.isError && <ProblemMessage error={views.error} />}
      {notice && (
        <p className="notice" role="status">
          {notice}
        </p>
      )}
      {failure !== null && <ProblemMessage error={failure} />}
      {(mode.kind === "save" || mode.kind === "rename") && (
        <form
          className="view-form"
          aria-label={
            mode.kind === "save"
              ? t("workspace.views.formHeading")
              : t("workspace.views.renameHeading", { name: current?.name ?? "" })
          }
          noValidate
          onSubmit={(event) => void submit(event)}
        >
          <div className="field field-inline">
            <label htmlFor={`${id}-name`}>{t("workspace.views.name")}</label>
            <input
              id={`${id}-name`}
              value={name}
              maxLength={120}
              required
              autoFocus
              aria-invalid={nameError?.length ? true : undefined}
              aria-describedby={nameError?.length ? errorId : undefined}
              onChange={(event) => setName(event.target.value)}
            />
          </div>
          {mode.kind === "save" && (
            <div className="field field-inline">
              <label htmlFor={`${id}-share`}>{t("workspace.views.share")}</label>
              <select id={`${id}-share`} value={share} onChange={(e) => setShare(e.target.value)}>
                <option value="">{t("workspace.views.private")}</option>
                {me.roles.map((role) => (
                  <option key={role} value={role}>
                    {t("workspace.views.role", { role })}
                  </option>
                ))}
              </select>
            </div>
          )}
          {nameError?.length ? (
            <p id={errorId} className="field-error">
              {nameError.join(" ")}
            </p>
          ) : null}
          <div className="form-actions">
            <button type="submit" className="button button-primary">
              {mode.kind === "save" ? t("workspace.views.saveSubmit") : t("workspace.views.renameSubmit")}
            </button>
            <button type="button" className="button" onClick={() => reset(null)}>
              {t("workspace.views.cancel")}
            </button>
          </div>
        </form>
      )}
      {mode.kind === "delete" && current && (
        <div className="form-actions">
          <button type="button" className="button button-danger" onClick={() => void confirmDelete()}>
            {t("workspace.views.confirmDelete", { name: current.name })}
          </button>
          <button type="button" className="button" onClick={() => reset(null)}>
            {t("workspace.views.cancel")}
          </button>
        </div>
      )}
    </div>
  );
}
