/**
 * A decision trace made readable: the waterfall of its steps (where each started and how long
 * it took, against the run's whole span), what an LLM step produced and whether it is labelled
 * AI-generated, a tool step's request and response, and the ledger proof's state.
 */

export interface TimedStep {
  step: string;
  kind: string;
  status: string;
  started_at: number | null;
  finished_at: number | null;
  duration_ms: number | null;
}

export interface WaterfallBar<S extends TimedStep = TimedStep> {
  step: S;
  /** Percent of the run's span before the step started. */
  offset: number;
  /** Percent of the span the step took (at least a sliver, so instant steps show). */
  width: number;
  /** Milliseconds from the first step's start. */
  startMs: number;
  /** Still going (waiting for a person or a sub-agent): the bar runs to the end. */
  open: boolean;
}

const MIN_WIDTH = 0.8;

/**
 * Bars for every step that started; `now` (unix seconds) ends the span of a run still waiting.
 * Skipped steps that never started get no bar (they are listed without one).
 */
export function waterfall<S extends TimedStep>(steps: readonly S[], now: number): { bars: WaterfallBar<S>[]; spanMs: number } {
  const started = steps.filter((s) => typeof s.started_at === "number");
  if (started.length === 0) return { bars: [], spanMs: 0 };
  const begin = Math.min(...started.map((s) => s.started_at as number));
  const ends = started.map((s) => s.finished_at ?? (s.status === "waiting" || s.status === "pending" ? now : (s.started_at as number)));
  const end = Math.max(begin, ...ends);
  const span = end - begin;
  const bars = started.map((step, index) => {
    const start = step.started_at as number;
    const open = step.finished_at === null && (step.status === "waiting" || step.status === "pending");
    const finish = ends[index] ?? start;
    const offset = span > 0 ? ((start - begin) / span) * 100 : 0;
    const width = span > 0 ? Math.max(MIN_WIDTH, ((finish - start) / span) * 100) : 100;
    return {
      step,
      offset: Math.min(offset, 100 - MIN_WIDTH),
      width: Math.min(width, 100 - Math.min(offset, 100 - MIN_WIDTH)),
      startMs: (start - begin) * 1000,
      open,
    };
  });
  return { bars, spanMs: span * 1000 };
}

export interface LlmOutput {
  text: string;
  aiGenerated: boolean;
  label: string | null;
  provider: string | null;
  model: string | null;
  /** Why the deterministic fallback text was used instead of a model. */
  fallbackReason: string | null;
}

function record(value: unknown): Record<string, unknown> | null {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : null;
}

function text(value: unknown): string | null {
  return typeof value === "string" ? value : null;
}

/** An LLM step's output (`{text, body, label, metadata}`), or null if it has none. */
export function llmOutput(output: unknown, trace: unknown): LlmOutput | null {
  const out = record(output);
  if (!out || typeof out.text !== "string") return null;
  const metadata = record(out.metadata) ?? {};
  const traced = record(trace) ?? {};
  return {
    text: out.text,
    aiGenerated: metadata.aigc === true,
    label: text(out.label),
    provider: text(metadata.provider),
    model: text(metadata.model),
    fallbackReason: text(traced.fallback) ?? (metadata.aigc === false ? text(metadata.reason) : null),
  };
}

export interface RuleRow {
  row: number;
  when: string;
  value: boolean;
}

/** A rule step's evaluated rows, and which one decided (a row number or "default"). */
export function ruleRows(trace: unknown): { rows: RuleRow[]; matched: number[] | "default" | null } {
  const traced = record(trace) ?? {};
  const rows = Array.isArray(traced.rules)
    ? traced.rules
        .map(record)
        .filter((r): r is Record<string, unknown> => r !== null)
        .map((r) => ({ row: Number(r.row), when: typeof r.when === "string" ? r.when : "", value: r.value === true }))
    : [];
  const matched = traced.matched;
  return {
    rows,
    matched:
      matched === "default"
        ? "default"
        : Array.isArray(matched)
          ? matched.filter((m): m is number => typeof m === "number")
          : null,
  };
}

export interface ToolCall {
  name: string | null;
  system: string | null;
  version: string | null;
  request: unknown;
  response: unknown;
}

export function toolCall(input: unknown, output: unknown, trace: unknown): ToolCall {
  const traced = record(trace) ?? {};
  const tool = record(traced.tool) ?? {};
  return {
    name: text(tool.name),
    system: text(tool.system),
    version: text(tool.version),
    request: input,
    response: output,
  };
}

export type ProofState = "verified" | "pending" | "failed";

/**
 * The ledger proof's state: `verified` when `/verify` answers intact, `failed` when it answers
 * with problems, `pending` when the run is not on the ledger yet (a 409: it goes there when
 * the run tree has finished).
 */
export function proofState(verification: { intact: boolean } | null, notYet: boolean): ProofState | null {
  if (verification) return verification.intact ? "verified" : "failed";
  return notYet ? "pending" : null;
}
