/** Wizard step 3: which field each column fills (a select per column), and the first rows
 * converted as they would be imported, with every invalid value marked. */
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { useDesignApi, type ImportPreview, type ImportReport } from "../../api/design";
import { ApiProblem } from "../../api/problem";
import { ProblemMessage } from "../../components/ProblemMessage";
import { useLanguage } from "../../components/useLanguage";
import { choiceOf, mappingErrors, mappingFrom, remap, type WizardState } from "../../design/imports";

type Field = ImportPreview["fields"][number];

function fieldName(field: Field, language: string): string {
  if (language === "zh-CN" && field.label_zh) return field.label_zh;
  return field.label ?? field.name;
}

function display(value: unknown): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "string") return value;
  if (Array.isArray(value)) return value.map((v) => display(v)).join("; ");
  return JSON.stringify(value);
}

export function MappingStep({
  state,
  onChange,
  onBack,
  onDryRun,
}: {
  state: WizardState;
  onChange: (changes: Partial<WizardState>) => void;
  onBack: () => void;
  onDryRun: (report: ImportReport) => void;
}) {
  const { t } = useTranslation();
  const language = useLanguage();
  const api = useDesignApi();
  const jobId = state.jobId ?? "";
  const choice = choiceOf(state);
  const preview = useQuery({
    queryKey: ["imports", jobId, "preview", choice],
    queryFn: () => api.preview(jobId, choice, 10),
    placeholderData: keepPreviousData,
    retry: false,
  });
  const [running, setRunning] = useState(false);
  const [failure, setFailure] = useState<unknown>(null);

  // A refused mapping leaves the last good preview on screen, its error at the column.
  const [shown, setShown] = useState<ImportPreview | null>(null);
  if (preview.data && preview.data !== shown) setShown(preview.data);
  const data = preview.data ?? shown;
  const problem = preview.error instanceof ApiProblem ? preview.error : null;
  const byColumn = mappingErrors([...(problem?.errors ?? []), ...(failure instanceof ApiProblem ? failure.errors : [])]);
  const generalProblem = problem && Object.keys(mappingErrors(problem.errors)).length === 0 ? problem : null;

  function choose(column: string, field: string) {
    if (!data) return;
    const current = state.mapping ?? mappingFrom(data.columns);
    onChange({ mapping: remap(current, column, field) });
    setFailure(null);
  }

  async function dryRun() {
    if (running) return;
    setRunning(true);
    setFailure(null);
    try {
      onDryRun(await api.dryRun(jobId, choice));
    } catch (error) {
      setFailure(error);
    } finally {
      setRunning(false);
    }
  }

  const fields = data?.fields ?? [];
  const mappedColumns = data?.columns.filter((c) => c.field) ?? [];
  const invalidCells = data?.rows.reduce((sum, row) => sum + row.cells.filter((c) => c.error).length, 0) ?? 0;
  const labelOf = (name: string) => {
    const field = fields.find((f) => f.name === name);
    return field ? fieldName(field, language) : name;
  };

  return (
    <div className="wizard-form">
      {preview.isPending && <p role="status">{t("design.import.loading")}</p>}
      {generalProblem && <ProblemMessage error={generalProblem} />}
      {data && (
        <>
          <div className="table-wrap">
            <table className="mapping-table">
              <caption>{t("design.import.mappingCaption")}</caption>
              <thead>
                <tr>
                  <th scope="col">{t("design.import.column")}</th>
                  <th scope="col">{t("design.import.field")}</th>
                  <th scope="col">{t("design.import.sample")}</th>
                </tr>
              </thead>
              <tbody>
                {data.columns.map((column) => {
                  const errors = byColumn[column.column] ?? [];
                  const selectId = `map-${data.columns.indexOf(column)}`;
                  const sample = data.rows[0]?.cells.find((c) => c.column === column.column)?.raw ?? "";
                  return (
                    <tr key={column.column}>
                      <th scope="row">{column.column}</th>
                      <td>
                        <select
                          id={selectId}
                          aria-label={t("design.import.fieldFor", { column: column.column })}
                          value={(state.mapping ? state.mapping[column.column] : column.field) ?? ""}
                          aria-invalid={errors.length > 0 || undefined}
                          aria-describedby={errors.length > 0 ? `${selectId}-error` : undefined}
                          onChange={(event) => {
                            choose(column.column, event.target.value);
                          }}
                        >
                          <option value="">{t("design.import.leaveOut")}</option>
                          {fields.map((field) => (
                            <option key={field.name} value={field.name}>
                              {fieldName(field, language)}
                              {field.required ? ` (${t("design.import.required")})` : ""}
                            </option>
                          ))}
                        </select>
                        {column.source && column.field && (
                          <span className="muted mapping-source"> {t(`design.import.sources.${column.source}`)}</span>
                        )}
                        {errors.length > 0 && (
                          <p className="field-error" id={`${selectId}-error`} role="alert">
                            {errors.join(" ")}
                          </p>
                        )}
                      </td>
                      <td>{sample}</td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
          {data.missing_required.length > 0 && (
            <p className="problem" role="alert">
              {t("design.import.missingRequired", {
                fields: data.missing_required.map(labelOf).join(", "),
              })}
            </p>
          )}
          {invalidCells > 0 && <p className="notice">{t("design.import.invalidCells", { count: invalidCells })}</p>}
          <div className="table-wrap">
            <table className="preview-table">
              <caption>{t("design.import.previewCaption", { count: data.rows.length })}</caption>
              <thead>
                <tr>
                  <th scope="col">{t("design.import.line")}</th>
                  {mappedColumns.map((column) => (
                    <th scope="col" key={column.column}>
                      {labelOf(column.field ?? "")}
                    </th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {data.rows.map((row) => (
                  <tr key={row.line}>
                    <th scope="row">{row.line}</th>
                    {mappedColumns.map((column) => {
                      const cell = row.cells.find((c) => c.column === column.column);
                      if (!cell) return <td key={column.column} />;
                      return (
                        <td key={column.column} className={cell.error ? "cell-invalid" : undefined}>
                          {cell.error ? (
                            <>
                              <span aria-hidden="true">⚠ </span>
                              {cell.raw}
                              <span className="cell-error">
                                {t("design.import.cellError", { column: column.column, message: cell.error })}
                              </span>
                            </>
                          ) : (
                            display(cell.value ?? cell.raw)
                          )}
                        </td>
                      );
                    })}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
      {failure !== null && !(failure instanceof ApiProblem && Object.keys(mappingErrors(failure.errors)).length > 0) && (
        <ProblemMessage error={failure} />
      )}
      <div className="form-actions">
        <button type="button" className="button" onClick={onBack}>
          {t("design.import.back")}
        </button>
        <button
          type="button"
          className="button button-primary"
          aria-disabled={running || !data || problem !== null}
          onClick={() => {
            if (data && !problem) void dryRun();
          }}
        >
          {t("design.import.runDryRun")}
        </button>
        {running && (
          <span role="status" className="muted">
            {t("design.import.dryRunning")}
          </span>
        )}
      </div>
    </div>
  );
}
