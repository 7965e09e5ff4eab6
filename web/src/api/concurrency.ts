/**
 * Optimistic concurrency: every record answer carries `ETag: "v<version>"`; a PATCH sends
 * `If-Match` with the version that was edited, and the server answers 412 (with the
 * `current_version`) when someone saved in between (api/deps.py `etag`, `parse_if_match`).
 */
import type { ApiProblem } from "./problem";

const ETAG = /^(?:W\/)?"v(\d+)"$/;

/** The If-Match header value for a version: `"v3"`. */
export function ifMatch(version: number): string {
  if (!Number.isInteger(version) || version < 1) {
    throw new RangeError(`not a record version: ${version}`);
  }
  return `"v${version}"`;
}

/** `"v3"` (or `W/"v3"`) → 3; anything else → null. */
export function versionFromEtag(etag: string | null | undefined): number | null {
  if (!etag) return null;
  const match = ETAG.exec(etag.trim());
  return match?.[1] !== undefined ? Number(match[1]) : null;
}

export type SaveOutcome =
  /** 412: someone saved first — offer their version, keep the draft. */
  | { kind: "conflict"; currentVersion: number | null }
  /** 422 (and 400 with field errors): show messages at their fields. */
  | { kind: "invalid" }
  /** 401: the session ended; the app sends the user to sign in. */
  | { kind: "signed-out" }
  /** Anything else: show the problem above the form. */
  | { kind: "failed" };

/** What a refused save means for the edit form. */
export function classifySaveProblem(problem: ApiProblem): SaveOutcome {
  switch (problem.status) {
    case 412:
      return { kind: "conflict", currentVersion: problem.currentVersion };
    case 422:
      return { kind: "invalid" };
    case 401:
      return { kind: "signed-out" };
    default:
      return problem.errors.length > 0 && problem.status === 400
        ? { kind: "invalid" }
        : { kind: "failed" };
  }
}
