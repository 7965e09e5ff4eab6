/**
 * Problems of a definition (problem+json `errors[]`, JSON Pointers into the definition) placed
 * where they concern: a step shows its own and its parameters', a condition its own, a field
 * its own; what no part of the form shows is listed at the top.
 */
import type { ProblemFieldError } from "../api/problem";

export class DefinitionErrors {
  constructor(readonly all: readonly ProblemFieldError[] = []) {}

  /** Errors at exactly this pointer. */
  at(pointer: string): ProblemFieldError[] {
    return this.all.filter((e) => e.path === pointer);
  }

  /** Errors at this pointer or anywhere below it. */
  under(pointer: string): ProblemFieldError[] {
    return this.all.filter((e) => e.path === pointer || e.path.startsWith(pointer + "/"));
  }

  /** Errors at a step itself or its own settings — not in its nested steps. */
  ofStep(pointer: string): ProblemFieldError[] {
    const nested = /^\/(then|else|on_failure)\/\d+/;
    return this.under(pointer).filter((e) => !nested.test(e.path.slice(pointer.length)));
  }

  /** Errors under none of the given pointers (shown at the top). */
  outside(placed: readonly string[]): ProblemFieldError[] {
    return this.all.filter((e) => !placed.some((p) => e.path === p || e.path.startsWith(p + "/")));
  }

  get count(): number {
    return this.all.length;
  }
}

export const NO_ERRORS = new DefinitionErrors();

/** The pointers the builder's form shows errors at (everything else goes to the top). */
export const PLACED = ["/name", "/title", "/description", "/when", "/lookups", "/windows", "/and", "/then"];
