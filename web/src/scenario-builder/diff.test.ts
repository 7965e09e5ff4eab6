import { describe, expect, it } from "vitest";
import { diffStats, lineDiff } from "./diff";

const render = (before: string, after: string) =>
  lineDiff(before, after).map((l) => `${l.kind === "same" ? " " : l.kind === "added" ? "+" : "-"}${l.text}`);

describe("line diff", () => {
  it("shows nothing changed for equal texts", () => {
    expect(render("a\nb\n", "a\nb\n")).toEqual([" a", " b"]);
  });

  it("finds a changed line between common ones, removal first", () => {
    expect(render("a\nb\nc\n", "a\nB\nc\n")).toEqual([" a", "-b", "+B", " c"]);
  });

  it("keeps the longest common subsequence", () => {
    expect(render("a\nb\nc\nd", "b\nx\nc\nd\ne")).toEqual(["-a", " b", "+x", " c", " d", "+e"]);
  });

  it("numbers lines in both texts", () => {
    const diff = lineDiff("a\nb", "a\nx\nb");
    expect(diff.map((l) => [l.oldLine, l.newLine])).toEqual([
      [1, 1],
      [null, 2],
      [2, 3],
    ]);
    expect(diffStats(diff)).toEqual({ added: 1, removed: 0 });
  });

  it("handles empty texts", () => {
    expect(render("", "a")).toEqual(["+a"]);
    expect(render("a", "")).toEqual(["-a"]);
    expect(render("", "")).toEqual([]);
  });
});
