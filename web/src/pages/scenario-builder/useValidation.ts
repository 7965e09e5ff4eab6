/**
 * Live validation: the draft is sent to POST /scenarios/validate 250 ms after the last change
 * (older answers are dropped); its problems, and how long the server took, come back.
 */
import { useEffect, useRef, useState } from "react";
import { ApiProblem } from "../../api/problem";
import type { ScenarioCalls } from "../../api/scenarios";
import { DefinitionErrors, NO_ERRORS } from "../../scenario-builder/errors";

export const DEBOUNCE_MS = 250;

export interface ValidationState {
  status: "idle" | "checking" | "valid" | "invalid" | "failed";
  errors: DefinitionErrors;
  /** Milliseconds the last check took (request to answer). */
  ms: number | null;
  /** The problem when the check itself failed (network, 5xx). */
  failure: ApiProblem | null;
}

const IDLE: ValidationState = { status: "idle", errors: NO_ERRORS, ms: null, failure: null };

export function useValidation(calls: ScenarioCalls, definition: unknown, enabled: boolean): ValidationState {
  const [state, setState] = useState<ValidationState>(IDLE);
  const sequence = useRef(0);

  useEffect(() => {
    if (!enabled) return;
    const mine = ++sequence.current;
    const timer = window.setTimeout(() => {
      setState((previous) => ({ ...previous, status: "checking" }));
      const started = performance.now();
      calls
        .validate(definition)
        .then(() => {
          if (mine !== sequence.current) return;
          setState({ status: "valid", errors: NO_ERRORS, ms: performance.now() - started, failure: null });
        })
        .catch((error: unknown) => {
          if (mine !== sequence.current) return;
          const ms = performance.now() - started;
          if (error instanceof ApiProblem && error.status === 422) {
            setState({ status: "invalid", errors: new DefinitionErrors(error.errors), ms, failure: null });
          } else {
            setState({
              status: "failed",
              errors: NO_ERRORS,
              ms,
              failure: error instanceof ApiProblem ? error : null,
            });
          }
        });
    }, DEBOUNCE_MS);
    return () => window.clearTimeout(timer);
  }, [calls, definition, enabled]);

  return state;
}
