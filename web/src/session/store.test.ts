import { afterEach, describe, expect, it, vi } from "vitest";
import { admin } from "../test/fixtures";
import { currentToken, endSession, getSessionState, onSessionEnd, startSession } from "./store";

describe("session store", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("holds the token in memory and ends it when it expires", () => {
    vi.useFakeTimers();
    const ended = vi.fn();
    const stop = onSessionEnd(ended);
    startSession("tok", 60, admin);
    expect(currentToken()).toBe("tok");
    vi.advanceTimersByTime(58_000);
    expect(currentToken()).toBe("tok");
    vi.advanceTimersByTime(2_000);
    expect(getSessionState()).toEqual({ session: null, ended: "expired" });
    expect(ended).toHaveBeenCalledWith("expired");
    stop();
  });

  it("signs out once, and a new sign-in clears the reason", () => {
    const ended = vi.fn();
    const stop = onSessionEnd(ended);
    startSession("tok", 3600, admin);
    endSession("signed-out");
    endSession("signed-out");
    expect(ended).toHaveBeenCalledTimes(1);
    startSession("tok2", 3600, admin);
    expect(getSessionState().ended).toBeNull();
    stop();
  });
});
