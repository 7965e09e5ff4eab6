/** Wizard steps 1 and 2: upload the file; choose a preset or the object to import into. */
import { useId, useRef, useState, type SubmitEvent } from "react";
import { useTranslation } from "react-i18next";
import { useDesignApi, type ImportPreset } from "../../api/design";
import { ApiProblem } from "../../api/problem";
import { useObjects } from "../../api/queries";
import { ProblemMessage } from "../../components/ProblemMessage";
import { useLanguage } from "../../components/useLanguage";
import { fileProblem, presetObject, type WizardState } from "../../design/imports";
import { objectLabel } from "../../records/fields";
import { useMe } from "../../session/SessionContext";

type Encoding = "utf-8" | "gb18030";

export function UploadStep({
  state,
  onUploaded,
}: {
  state: WizardState;
  onUploaded: (changes: Partial<WizardState>) => void;
}) {
  const { t } = useTranslation();
  const api = useDesignApi();
  const fileInput = useRef<HTMLInputElement>(null);
  const [encoding, setEncoding] = useState<Encoding>("utf-8");
  const [message, setMessage] = useState<string | null>(null);
  const [failure, setFailure] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const fileId = useId();
  const errorId = useId();
  const hintId = useId();

  async function submit(event: SubmitEvent<HTMLFormElement>) {
    event.preventDefault();
    if (busy) return;
    setMessage(null);
    setFailure(null);
    const file = fileInput.current?.files?.[0];
    if (!file) {
      setMessage(t("design.import.chooseFile"));
      fileInput.current?.focus();
      return;
    }
    const problem = fileProblem(file);
    if (problem) {
      setMessage(t(`design.import.fileProblems.${problem}`));
      fileInput.current?.focus();
      return;
    }
    setBusy(true);
    try {
      const job = await api.upload(file, file.name, encoding);
      onUploaded({
        jobId: job.id,
        filename: job.filename,
        headers: job.headers,
        rowsTotal: job.rows_total,
        suggestedPresets: job.suggested_presets,
        preset: job.suggested_presets[0] ?? null,
        mapping: null,
        object: null,
      });
    } catch (error) {
      setFailure(error);
      fileInput.current?.focus();
    } finally {
      setBusy(false);
    }
  }

  const invalid = message !== null || failure !== null;
  return (
    <form className="wizard-form" noValidate onSubmit={(event) => void submit(event)}>
      {state.jobId && (
        <p className="notice">
          {t("design.import.uploaded", {
            file: state.filename,
            rows: state.rowsTotal,
            columns: state.headers.length,
          })}
        </p>
      )}
      <div className="field">
        <label htmlFor={fileId}>{t("design.import.file")}</label>
        <input
          id={fileId}
          ref={fileInput}
          type="file"
          accept=".csv,text/csv"
          aria-invalid={invalid || undefined}
          aria-describedby={invalid ? `${hintId} ${errorId}` : hintId}
        />
        <p className="hint" id={hintId}>
          {t("design.import.fileHint")}
        </p>
        {message !== null && (
          <p className="field-error" id={errorId} role="alert">
            {message}
          </p>
        )}
        {failure !== null && <ProblemMessage error={failure} id={errorId} />}
      </div>
      <div className="field">
        <label htmlFor={`${fileId}-encoding`}>{t("design.import.encoding")}</label>
        <select
          id={`${fileId}-encoding`}
          value={encoding}
          onChange={(event) => {
            setEncoding(event.target.value as Encoding);
          }}
        >
          <option value="utf-8">{t("design.import.encodings.utf-8")}</option>
          <option value="gb18030">{t("design.import.encodings.gb18030")}</option>
        </select>
      </div>
      <div className="form-actions">
        <button type="submit" className="button button-primary" aria-disabled={busy}>
          {t("design.import.upload")}
        </button>
        {busy && (
          <span role="status" className="muted">
            {t("design.import.uploading")}
          </span>
        )}
      </div>
    </form>
  );
}

const KNOWN_PRESETS = [
  "hubspot-contacts",
  "hubspot-companies",
  "salesforce-contacts",
  "salesforce-accounts",
] as const;
type KnownPreset = (typeof KNOWN_PRESETS)[number];

function isKnownPreset(name: string): name is KnownPreset {
  return (KNOWN_PRESETS as readonly string[]).includes(name);
}

export function TargetStep({
  state,
  presets,
  onChange,
  onBack,
  onNext,
}: {
  state: WizardState;
  presets: ImportPreset[];
  onChange: (changes: Partial<WizardState>) => void;
  onBack: () => void;
  onNext: () => void;
}) {
  const { t } = useTranslation();
  const language = useLanguage();
  const me = useMe();
  const objects = useObjects();
  const groupId = useId();
  const objectId = useId();
  const errorId = useId();
  const [missing, setMissing] = useState(false);
  const creatable = (objects.data ?? []).filter((o) =>
    me.permissions[o.name]?.actions.includes("create"),
  );
  const usable = presets.filter((p) => me.permissions[p.object]?.actions.includes("create"));

  function choosePreset(name: string | null) {
    setMissing(false);
    onChange({
      preset: name,
      object: name ? presetObject(presets, name) : state.object,
      mapping: null,
    });
  }

  function next() {
    if (!state.preset && !state.object) {
      setMissing(true);
      document.getElementById(objectId)?.focus();
      return;
    }
    onNext();
  }

  return (
    <div className="wizard-form">
      <fieldset className="field" aria-describedby={`${groupId}-hint`}>
        <legend>{t("design.import.preset")}</legend>
        <p className="hint" id={`${groupId}-hint`}>
          {t("design.import.presetHint")}
        </p>
        {usable.map((preset) => (
          <label key={preset.name} className="check">
            <input
              type="radio"
              name={groupId}
              checked={state.preset === preset.name}
              onChange={() => {
                choosePreset(preset.name);
              }}
            />
            {isKnownPreset(preset.name) ? t(`design.import.presets.${preset.name}`) : preset.name}
            {state.suggestedPresets.includes(preset.name) && (
              <span className="badge">{t("design.import.fits")}</span>
            )}
          </label>
        ))}
        <label className="check">
          <input
            type="radio"
            name={groupId}
            checked={state.preset === null}
            onChange={() => {
              choosePreset(null);
            }}
          />
          {t("design.import.noPreset")}
        </label>
      </fieldset>
      {state.preset === null && (
        <div className="field">
          <label htmlFor={objectId}>{t("design.import.object")}</label>
          <select
            id={objectId}
            value={state.object ?? ""}
            aria-invalid={missing || undefined}
            aria-describedby={missing ? errorId : undefined}
            onChange={(event) => {
              setMissing(false);
              onChange({ object: event.target.value || null, mapping: null });
            }}
          >
            <option value="">{t("design.import.chooseObject")}</option>
            {creatable.map((object) => (
              <option key={object.name} value={object.name}>
                {objectLabel(object, language, true)}
              </option>
            ))}
          </select>
          {missing && (
            <p className="field-error" id={errorId} role="alert">
              {t("design.import.chooseObject")}
            </p>
          )}
        </div>
      )}
      <div className="form-actions">
        <button type="button" className="button" onClick={onBack}>
          {t("design.import.back")}
        </button>
        <button type="button" className="button button-primary" onClick={next}>
          {t("design.import.next")}
        </button>
      </div>
    </div>
  );
}

export function isProblem(error: unknown): error is ApiProblem {
  return error instanceof ApiProblem;
}
