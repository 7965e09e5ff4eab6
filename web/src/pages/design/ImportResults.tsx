/** Wizard steps 4–6: the dry run's findings, the import's progress bar, the summary. */
import { useEffect, useId, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link } from "react-router";
import { useDesignApi, useImportJob, type DesignApi, type ImportReport } from "../../api/design";
import { ProblemMessage } from "../../components/ProblemMessage";
import { choiceOf, percent, type WizardState } from "../../design/imports";
import { ApiProblem } from "../../api/problem";

/** Fetch the error rows with the session's token and hand them to the browser as a file. */
async function saveErrorRows(api: DesignApi, jobId: string, filename: string): Promise<void> {
  const blob = await api.errorRows(jobId);
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = `${filename.replace(/\.csv$/i, "") || "import"}-errors.csv`;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => {
    URL.revokeObjectURL(url);
  }, 1000);
}

function DownloadErrors({ jobId, filename }: { jobId: string; filename: string }) {
  const { t } = useTranslation();
  const api = useDesignApi();
  const [busy, setBusy] = useState(false);
  const [failure, setFailure] = useState<unknown>(null);
  return (
    <>
      <button
        type="button"
        className="button"
        aria-disabled={busy}
        onClick={() => {
          if (busy) return;
          setBusy(true);
          setFailure(null);
          saveErrorRows(api, jobId, filename)
            .catch((error: unknown) => {
              setFailure(error);
            })
            .finally(() => {
              setBusy(false);
            });
        }}
      >
        {t("design.import.downloadErrors")}
      </button>
      {busy && (
        <span role="status" className="muted">
          {t("design.import.downloading")}
        </span>
      )}
      {failure !== null && <ProblemMessage error={failure} />}
    </>
  );
}

function ErrorTable({ report }: { report: ImportReport }) {
  const { t } = useTranslation();
  if (report.errors.length === 0) return null;
  return (
    <div className="table-wrap">
      <table className="errors-table">
        <caption>{t("design.import.errorsCaption")}</caption>
        <thead>
          <tr>
            <th scope="col">{t("design.import.line")}</th>
            <th scope="col">{t("design.import.column")}</th>
            <th scope="col">{t("design.import.message")}</th>
          </tr>
        </thead>
        <tbody>
          {report.errors.map((error, index) => (
            <tr key={`${error.line}-${index}`}>
              <th scope="row">{error.line}</th>
              <td>{error.column || error.field}</td>
              <td>{error.message}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function DryRunStep({
  state,
  report,
  onChange,
  onBack,
  onStarted,
}: {
  state: WizardState;
  report: ImportReport;
  onChange: (changes: Partial<WizardState>) => void;
  onBack: () => void;
  onStarted: () => void;
}) {
  const { t } = useTranslation();
  const api = useDesignApi();
  const groupId = useId();
  const [busy, setBusy] = useState(false);
  const [failure, setFailure] = useState<unknown>(null);
  const jobId = state.jobId ?? "";

  async function start() {
    if (busy) return;
    setBusy(true);
    setFailure(null);
    try {
      await api.run(jobId, choiceOf(state));
      onChange({ object: report.object });
      onStarted();
    } catch (error) {
      setFailure(error);
    } finally {
      setBusy(false);
    }
  }

  return (
    <div className="wizard-form">
      <p className="notice" role="status">
        {t("design.import.dryRunSummary", {
          rows: report.rows,
          created: report.created,
          bad: report.error_rows,
        })}{" "}
        {report.error_rows === 0 ? t("design.import.dryRunClean") : t("design.import.nothingWritten")}
      </p>
      <ErrorTable report={report} />
      <fieldset className="field">
        <legend>{t("design.import.mode")}</legend>
        {(["skip_bad_rows", "all_or_nothing"] as const).map((mode) => (
          <label key={mode} className="check">
            <input
              type="radio"
              name={groupId}
              checked={state.mode === mode}
              onChange={() => {
                onChange({ mode });
              }}
            />
            {t(`design.import.modes.${mode}`)}
          </label>
        ))}
      </fieldset>
      {failure !== null && <ProblemMessage error={failure} />}
      <div className="form-actions">
        <button type="button" className="button" onClick={onBack}>
          {t("design.import.back")}
        </button>
        {report.error_rows > 0 && <DownloadErrors jobId={jobId} filename={state.filename} />}
        <button
          type="button"
          className="button button-primary"
          aria-disabled={busy}
          onClick={() => void start()}
        >
          {t("design.import.startImport")}
        </button>
      </div>
    </div>
  );
}

export function ProgressStep({
  jobId,
  objectName,
  onFinished,
}: {
  jobId: string;
  objectName: string;
  onFinished: () => void;
}) {
  const { t } = useTranslation();
  const job = useImportJob(jobId);
  const labelId = useId();
  const data = job.data;
  const done = data?.rows_done ?? 0;
  const total = data?.rows_total ?? 0;
  const value = percent(done, total);
  const finished = data !== undefined && data.state !== "running" && data.state !== "uploaded";

  useEffect(() => {
    if (finished) onFinished();
  }, [finished, onFinished]);

  return (
    <div className="wizard-form">
      <p id={labelId}>{t("design.import.progressLabel", { object: objectName })}</p>
      <progress
        className="import-progress"
        max={100}
        value={value}
        aria-labelledby={labelId}
        aria-valuetext={t("design.import.progress", { done, total, percent: value })}
      />
      <p role="status">{t("design.import.progress", { done, total, percent: value })}</p>
      {job.error && <ProblemMessage error={job.error} />}
    </div>
  );
}

export function SummaryStep({
  jobId,
  filename,
  onAnother,
}: {
  jobId: string;
  filename: string;
  onAnother: () => void;
}) {
  const { t } = useTranslation();
  const job = useImportJob(jobId);
  const data = job.data;
  if (!data) return job.error ? <ProblemMessage error={job.error} /> : null;
  const report = data.report;
  const object = report?.object ?? data.object ?? "";
  return (
    <div className="wizard-form">
      {data.state === "failed" && data.failure && (
        <>
          <p className="problem-title">{t("design.import.failed")}</p>
          <ProblemMessage
            error={
              new ApiProblem({
                type: data.failure.type,
                title: data.failure.title,
                status: data.failure.status,
                detail: data.failure.detail,
              })
            }
          />
        </>
      )}
      {report && (
        <p className="notice" role="status">
          {report.committed
            ? t("design.import.summary", {
                created: report.created,
                updated: report.updated,
                skipped: report.skipped,
              })
            : t("design.import.allOrNothingFailed", { bad: report.error_rows })}
        </p>
      )}
      {report && <ErrorTable report={report} />}
      <div className="form-actions">
        {report && report.committed && (
          <Link className="button button-primary" to={`/records/${object}`}>
            {t("design.import.showRecords")}
          </Link>
        )}
        {report && report.error_rows > 0 && <DownloadErrors jobId={jobId} filename={filename} />}
        <button type="button" className="button" onClick={onAnother}>
          {t("design.import.another")}
        </button>
      </div>
      {report && report.record_ids.length > 0 && (
        <ul className="imported-records">
          {report.record_ids.slice(0, 10).map((id, index) => (
            <li key={id}>
              <Link to={`/records/${object}/${id}`}>{t("design.import.recordLink", { number: index + 1 })}</Link>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
