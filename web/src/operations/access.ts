/** Who may do what in the operations area (the server decides again on every request). */
import type { Me } from "../api/types";

/** Dead letters: api/events.py OperatorDep (PUBLISHERS). */
export const DEAD_LETTER_ROLES: readonly string[] = ["admin", "integration"];
/** The event log and its live tail: api/events.py READERS. */
export const EVENT_READERS: readonly string[] = ["admin", "integration", "analyst", "compliance"];
/** Retrying a run: api/scenarios.py AUTHORS. */
export const RUN_RETRIERS: readonly string[] = ["admin", "sales", "service"];

const has = (me: Me, roles: readonly string[]) => me.roles.some((role) => roles.includes(role));

export const mayManageDeadLetters = (me: Me) => has(me, DEAD_LETTER_ROLES);
export const mayTailEvents = (me: Me) => has(me, EVENT_READERS);
export const mayRetryRuns = (me: Me) => has(me, RUN_RETRIERS);
