/** Pure logic of the CSV import wizard: steps, the mapping the user edits, progress. */
import type { ImportChoice, ImportColumn, ImportMode, ImportPreset } from "../api/design";

export const STEPS = ["upload", "target", "mapping", "dryRun", "import", "summary"] as const;
export type Step = (typeof STEPS)[number];

/** The server refuses bigger files (records/imports.py MAX_BYTES); say so before sending. */
export const MAX_UPLOAD_BYTES = 5 * 1024 * 1024;

/** Why a chosen file will not do, before it is sent (the server checks again). */
export function fileProblem(file: { name: string; size: number }): "empty" | "tooBig" | "notCsv" | null {
  if (file.size === 0) return "empty";
  if (file.size > MAX_UPLOAD_BYTES) return "tooBig";
  if (/\.(xlsx?|xlsm|numbers|ods|pdf|docx?)$/i.test(file.name)) return "notCsv";
  return null;
}

/** What the wizard keeps between steps (Back and Next never lose it). */
export interface WizardState {
  jobId: string | null;
  filename: string;
  headers: string[];
  rowsTotal: number;
  suggestedPresets: string[];
  preset: string | null;
  object: string | null;
  /** The user's edits of the mapping (column → field, "" to leave out); null: as suggested. */
  mapping: Record<string, string> | null;
  mode: ImportMode;
}

export const EMPTY: WizardState = {
  jobId: null,
  filename: "",
  headers: [],
  rowsTotal: 0,
  suggestedPresets: [],
  preset: null,
  object: null,
  mapping: null,
  mode: "skip_bad_rows",
};

/** The choice sent to the server for this state. */
export function choiceOf(state: WizardState): ImportChoice {
  const choice: ImportChoice = { mode: state.mode };
  if (state.preset) choice.preset = state.preset;
  else choice.object = state.object;
  if (state.mapping) choice.mapping = state.mapping;
  return choice;
}

/** The object a preset imports into. */
export function presetObject(presets: ImportPreset[], name: string | null): string | null {
  return presets.find((p) => p.name === name)?.object ?? null;
}

/** The whole mapping as the preview shows it: every column → its field, "" when left out. */
export function mappingFrom(columns: ImportColumn[]): Record<string, string> {
  return Object.fromEntries(columns.map((c) => [c.column, c.field ?? ""]));
}

/** Map `column` to `field` (or leave it out with ""); a field feeds at most one column. */
export function remap(
  mapping: Record<string, string>,
  column: string,
  field: string,
): Record<string, string> {
  const next: Record<string, string> = {};
  for (const [other, target] of Object.entries(mapping)) {
    next[other] = field !== "" && other !== column && target === field ? "" : target;
  }
  next[column] = field;
  return next;
}

/** 0–100, whole percent, never past 100 (and 100 for an empty file that is done). */
export function percent(done: number, total: number): number {
  if (total <= 0) return done > 0 ? 100 : 0;
  return Math.min(100, Math.floor((done / total) * 100));
}

/** A problem's `/mapping/<column>` errors, by column. */
export function mappingErrors(errors: { path: string; message: string }[]): Record<string, string[]> {
  const byColumn: Record<string, string[]> = {};
  for (const error of errors) {
    const match = /^\/mapping\/(.+)$/.exec(error.path);
    if (!match?.[1]) continue;
    const column = match[1]; // the server names the column as it is in the file
    (byColumn[column] ??= []).push(error.message);
  }
  return byColumn;
}
