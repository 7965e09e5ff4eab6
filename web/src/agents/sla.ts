/** A human task's SLA: how long is left until it is due, or how long it is overdue. */

export interface SlaState {
  overdue: boolean;
  /** Whole seconds left (overdue: seconds past due), never negative. */
  seconds: number;
}

export function slaState(dueAt: string, now: number): SlaState {
  const due = Date.parse(dueAt);
  if (Number.isNaN(due)) return { overdue: false, seconds: 0 };
  const left = Math.floor((due - now) / 1000);
  return left < 0 ? { overdue: true, seconds: -left } : { overdue: false, seconds: left };
}

export interface DurationUnits {
  d: string;
  h: string;
  m: string;
  s: string;
  /** Between the parts: " " in English, "" in Chinese. */
  separator: string;
}

/** "2 d 3 h", "3 h 05 min", "4 min 09 s", "12 s" — the two largest units that matter. */
export function formatDuration(seconds: number, units: DurationUnits): string {
  const days = Math.floor(seconds / 86_400);
  const hours = Math.floor((seconds % 86_400) / 3_600);
  const minutes = Math.floor((seconds % 3_600) / 60);
  const secs = seconds % 60;
  const pad = (n: number) => String(n).padStart(2, "0");
  const parts: string[] =
    days > 0
      ? [`${days}${units.d}`, `${hours}${units.h}`]
      : hours > 0
        ? [`${hours}${units.h}`, `${pad(minutes)}${units.m}`]
        : minutes > 0
          ? [`${minutes}${units.m}`, `${pad(secs)}${units.s}`]
          : [`${secs}${units.s}`];
  return parts.join(units.separator);
}
