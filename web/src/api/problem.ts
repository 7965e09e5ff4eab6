/**
 * RFC 9457 problem details (application/problem+json), as every Kindred error is sent
 * (api/problems.py), turned into one typed error the UI can place: a field's message next to
 * that field, the rest at the top of the form or page.
 */

export interface ProblemFieldError {
  /** JSON Pointer into the request, e.g. `/name` or `/query/sort`. */
  path: string;
  code: string;
  message: string;
}

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance?: string;
  errors?: ProblemFieldError[];
  request_id?: string;
  current_version?: number;
  retry_after?: number;
  [extension: string]: unknown;
}

export const NETWORK_ERROR = "urn:kindred:console:network-error";
const BLANK = "about:blank";

export class ApiProblem extends Error {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string;
  readonly errors: ProblemFieldError[];
  /** 429/503: seconds to wait (the Retry-After header, else the body's `retry_after`). */
  readonly retryAfter: number | null;
  /** 412: the version the resource is at now. */
  readonly currentVersion: number | null;
  readonly requestId: string | null;
  readonly body: ProblemBody;

  constructor(body: ProblemBody, retryAfter: number | null = null) {
    super(body.detail || body.title);
    this.name = "ApiProblem";
    this.body = body;
    this.type = body.type;
    this.title = body.title;
    this.status = body.status;
    this.detail = body.detail;
    this.errors = Array.isArray(body.errors) ? body.errors.filter(isFieldError) : [];
    this.retryAfter = retryAfter ?? (typeof body.retry_after === "number" ? body.retry_after : null);
    this.currentVersion = typeof body.current_version === "number" ? body.current_version : null;
    this.requestId = typeof body.request_id === "string" ? body.request_id : null;
  }

  /** The kind without Kindred's base URI: `not-found`, `validation-failed` … */
  get kind(): string {
    const slash = this.type.lastIndexOf("/");
    return slash >= 0 ? this.type.slice(slash + 1) : this.type;
  }
}

function isFieldError(value: unknown): value is ProblemFieldError {
  if (typeof value !== "object" || value === null) return false;
  const entry = value as Record<string, unknown>;
  return typeof entry.path === "string" && typeof entry.message === "string";
}

function isProblemBody(value: unknown): value is ProblemBody {
  if (typeof value !== "object" || value === null) return false;
  const body = value as Record<string, unknown>;
  return typeof body.status === "number" && typeof body.title === "string";
}

/** Seconds from a Retry-After header: delta-seconds or an HTTP date. */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number | null {
  if (value === null || value.trim() === "") return null;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.ceil(Number(trimmed));
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return null;
  return Math.max(0, Math.ceil((at - now) / 1000));
}

/** The problem an error response stands for, whatever its body (a proxy may send HTML). */
export function problemFromResponse(response: Response, body: unknown): ApiProblem {
  const retryAfter = parseRetryAfter(response.headers.get("Retry-After"));
  if (isProblemBody(body)) {
    return new ApiProblem(
      {
        ...body,
        type: typeof body.type === "string" ? body.type : BLANK,
        detail: typeof body.detail === "string" ? body.detail : "",
      },
      retryAfter,
    );
  }
  return new ApiProblem(
    {
      type: BLANK,
      title: response.statusText || `HTTP ${response.status}`,
      status: response.status,
      detail: typeof body === "string" && body.length < 300 ? body : "",
    },
    retryAfter,
  );
}

export function networkProblem(error: unknown): ApiProblem {
  return new ApiProblem({
    type: NETWORK_ERROR,
    title: "Network error",
    status: 0,
    detail: error instanceof Error ? error.message : String(error),
  });
}

/** `/name` → `["name"]`; `/a~1b/0` → `["a/b", "0"]` (RFC 6901). `""` → `[]`. */
export function parsePointer(pointer: string): string[] {
  if (pointer === "" || pointer === "/") return [];
  const body = pointer.startsWith("/") ? pointer.slice(1) : pointer;
  return body.split("/").map((token) => token.replace(/~1/g, "/").replace(/~0/g, "~"));
}

export interface FieldErrors {
  /** Messages per field name, to show next to that field. */
  byField: Record<string, string[]>;
  /** What belongs to no field of the form: shown at the top. */
  general: string[];
}

/**
 * Place a problem's messages: an `errors[]` entry whose JSON Pointer starts with one of
 * `fields` goes next to that field; everything else (the record as a whole, a query
 * parameter, a field the form does not show) goes to `general`, and so does the problem's
 * `detail` when no entry was placed at a field.
 */
export function fieldErrorsFrom(problem: ApiProblem, fields: Iterable<string>): FieldErrors {
  const known = new Set(fields);
  const byField: Record<string, string[]> = {};
  const general: string[] = [];
  for (const error of problem.errors) {
    const [head] = parsePointer(error.path);
    if (head !== undefined && known.has(head)) {
      (byField[head] ??= []).push(error.message);
    } else {
      general.push(head !== undefined ? `${head}: ${error.message}` : error.message);
    }
  }
  if (Object.keys(byField).length === 0 && general.length === 0) {
    general.push(problem.detail || problem.title);
  }
  return { byField, general };
}
