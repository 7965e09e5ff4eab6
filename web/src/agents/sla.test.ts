import { describe, expect, it } from "vitest";
import { formatDuration, slaState } from "./sla";

const EN = { d: " d", h: " h", m: " min", s: " s", separator: " " };
const ZH = { d: "天", h: "小时", m: "分", s: "秒", separator: "" };

describe("the SLA countdown", () => {
  const now = Date.parse("2026-01-01T12:00:00Z");

  it("counts the time left, then the time overdue", () => {
    expect(slaState("2026-01-01T16:00:00Z", now)).toEqual({ overdue: false, seconds: 4 * 3600 });
    expect(slaState("2026-01-01T11:58:30Z", now)).toEqual({ overdue: true, seconds: 90 });
    expect(slaState("not a date", now)).toEqual({ overdue: false, seconds: 0 });
  });

  it("says it with the two largest units that matter, in each language", () => {
    expect(formatDuration(2 * 86_400 + 3 * 3600 + 59, EN)).toBe("2 d 3 h");
    expect(formatDuration(3 * 3600 + 5 * 60 + 9, EN)).toBe("3 h 05 min");
    expect(formatDuration(4 * 60 + 9, EN)).toBe("4 min 09 s");
    expect(formatDuration(12, EN)).toBe("12 s");
    expect(formatDuration(3 * 3600 + 5 * 60, ZH)).toBe("3小时05分");
  });
});
