/**
 * The live tail's list: newest first, at most `max` shown; while paused, new events are held
 * back (the newest `max` of them) and shown on resume.
 */
import type { StoredEvent } from "../api/operations";

export const TAIL_MAX = 200;

export interface TailState {
  shown: StoredEvent[];
  held: StoredEvent[];
  paused: boolean;
}

export type TailAction =
  | { kind: "add"; event: StoredEvent }
  | { kind: "pause" }
  | { kind: "resume" }
  | { kind: "clear" };

export const emptyTail: TailState = { shown: [], held: [], paused: false };

export function tailReducerOf(max: number) {
  return (state: TailState, action: TailAction): TailState => reduce(state, action, max);
}

export const tailReducer = tailReducerOf(TAIL_MAX);

function reduce(state: TailState, action: TailAction, max: number): TailState {
  switch (action.kind) {
    case "add":
      if (state.paused) return { ...state, held: [action.event, ...state.held].slice(0, max) };
      return { ...state, shown: [action.event, ...state.shown].slice(0, max) };
    case "pause":
      return { ...state, paused: true };
    case "resume":
      return { shown: [...state.held, ...state.shown].slice(0, max), held: [], paused: false };
    case "clear":
      return { ...state, shown: [], held: [] };
  }
}
