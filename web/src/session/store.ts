/**
 * The signed-in session, in memory only.
 *
 * The bearer token lives in this module's variable and nowhere else: never in localStorage,
 * sessionStorage or a readable cookie, so a script that runs later cannot read it back. A
 * reload or a new tab restores the session from the server's refresh cookie (HttpOnly,
 * SameSite=Strict, Path=/api/v1/auth — the page never sees it; SessionContext.tsx asks
 * POST /auth/refresh on start and shortly before each token expires).
 *
 * React reads it through `useSession()` (SessionContext.tsx, useSyncExternalStore); the API
 * client reads `currentToken()` for each request and calls `expireSession()` on a 401.
 */
import type { Me } from "../api/types";

export type SignOutReason = "expired" | "signed-out";

export interface Session {
  token: string;
  /** Epoch milliseconds when the token stops working. */
  expiresAt: number;
  me: Me;
}

export interface SessionState {
  session: Session | null;
  /** Why the last session ended, for the sign-in page to say so; null after a sign-in. */
  ended: SignOutReason | null;
}

type Listener = () => void;

let state: SessionState = { session: null, ended: null };
const listeners = new Set<Listener>();
const endListeners = new Set<(reason: SignOutReason) => void>();
let expiryTimer: ReturnType<typeof setTimeout> | null = null;

function emit(next: SessionState): void {
  state = next;
  for (const listener of listeners) listener();
}

export function subscribe(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function getSessionState(): SessionState {
  return state;
}

export function currentToken(): string | null {
  const session = state.session;
  if (session === null) return null;
  return session.token;
}

/** Called when a session ends (to drop cached data of the previous user). */
export function onSessionEnd(listener: (reason: SignOutReason) => void): () => void {
  endListeners.add(listener);
  return () => endListeners.delete(listener);
}

function clearTimer(): void {
  if (expiryTimer !== null) {
    clearTimeout(expiryTimer);
    expiryTimer = null;
  }
}

// setTimeout takes at most a signed 32-bit delay; longer tokens re-check later.
const MAX_DELAY = 2 ** 31 - 1;

function armTimer(expiresAt: number): void {
  clearTimer();
  const delay = Math.max(0, expiresAt - Date.now());
  expiryTimer = setTimeout(
    () => {
      if (state.session !== null && Date.now() >= state.session.expiresAt - 1000) {
        endSession("expired");
      } else if (state.session !== null) {
        armTimer(state.session.expiresAt);
      }
    },
    Math.min(delay, MAX_DELAY),
  );
}

export function startSession(token: string, expiresInSeconds: number, me: Me): void {
  const expiresAt = Date.now() + expiresInSeconds * 1000;
  emit({ session: { token, expiresAt, me }, ended: null });
  armTimer(expiresAt);
}

/** Who the user is, read again (e.g. after an admin created an object): same token. */
export function refreshMe(me: Me): void {
  const session = state.session;
  if (session === null || session.me.id !== me.id) return;
  emit({ session: { ...session, me }, ended: null });
}

/** A fresh token for the same user (a refresh): same session, new expiry. */
export function renewToken(token: string, expiresInSeconds: number): void {
  const session = state.session;
  if (session === null) return;
  const expiresAt = Date.now() + expiresInSeconds * 1000;
  emit({ session: { ...session, token, expiresAt }, ended: null });
  armTimer(expiresAt);
}

export function endSession(reason: SignOutReason): void {
  clearTimer();
  const hadSession = state.session !== null;
  emit({ session: null, ended: reason });
  if (hadSession) {
    for (const listener of endListeners) listener(reason);
  }
}

/** A 401 on an authenticated request: the token expired or was revoked. */
export function expireSession(): void {
  if (state.session !== null) endSession("expired");
}

/** For tests: forget everything. */
export function resetSessionForTests(): void {
  clearTimer();
  state = { session: null, ended: null };
  for (const listener of listeners) listener();
}
