/**
 * A line diff of two texts (two versions' YAML): the longest common subsequence of their lines,
 * then every line as kept, removed or added, in reading order. Quadratic in lines, which is fine
 * for scenario definitions (a few hundred lines); beyond MAX_CELLS it falls back to "all removed,
 * all added" around the common head and tail.
 */

export interface DiffLine {
  kind: "same" | "removed" | "added";
  text: string;
  /** 1-based line numbers in the old and new text (null where the line is not in it). */
  oldLine: number | null;
  newLine: number | null;
}

const MAX_CELLS = 4_000_000;

function lines(text: string): string[] {
  if (text === "") return [];
  const split = text.split("\n");
  if (split.at(-1) === "") split.pop();
  return split;
}

export function lineDiff(before: string, after: string): DiffLine[] {
  const a = lines(before);
  const b = lines(after);
  // Common head and tail need no table.
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (tail < a.length - head && tail < b.length - head && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail++;
  const midA = a.slice(head, a.length - tail);
  const midB = b.slice(head, b.length - tail);

  const out: DiffLine[] = [];
  for (let i = 0; i < head; i++) out.push({ kind: "same", text: a[i] ?? "", oldLine: i + 1, newLine: i + 1 });

  const n = midA.length;
  const m = midB.length;
  if (n * m > MAX_CELLS) {
    midA.forEach((text, i) => out.push({ kind: "removed", text, oldLine: head + i + 1, newLine: null }));
    midB.forEach((text, j) => out.push({ kind: "added", text, oldLine: null, newLine: head + j + 1 }));
  } else {
    // lcs[i][j]: length of the LCS of midA[i..] and midB[j..]
    const width = m + 1;
    const lcs = new Uint32Array((n + 1) * width);
    for (let i = n - 1; i >= 0; i--) {
      for (let j = m - 1; j >= 0; j--) {
        lcs[i * width + j] =
          midA[i] === midB[j]
            ? (lcs[(i + 1) * width + j + 1] ?? 0) + 1
            : Math.max(lcs[(i + 1) * width + j] ?? 0, lcs[i * width + j + 1] ?? 0);
      }
    }
    let i = 0;
    let j = 0;
    while (i < n || j < m) {
      if (i < n && j < m && midA[i] === midB[j]) {
        out.push({ kind: "same", text: midA[i] ?? "", oldLine: head + i + 1, newLine: head + j + 1 });
        i++;
        j++;
      } else if (i < n && (j === m || (lcs[(i + 1) * width + j] ?? 0) >= (lcs[i * width + j + 1] ?? 0))) {
        out.push({ kind: "removed", text: midA[i] ?? "", oldLine: head + i + 1, newLine: null });
        i++;
      } else {
        out.push({ kind: "added", text: midB[j] ?? "", oldLine: null, newLine: head + j + 1 });
        j++;
      }
    }
  }
  for (let k = 0; k < tail; k++) {
    const oldLine = a.length - tail + k;
    const newLine = b.length - tail + k;
    out.push({ kind: "same", text: a[oldLine] ?? "", oldLine: oldLine + 1, newLine: newLine + 1 });
  }
  return out;
}

/** How many lines were added and removed. */
export function diffStats(diff: DiffLine[]): { added: number; removed: number } {
  return {
    added: diff.filter((line) => line.kind === "added").length,
    removed: diff.filter((line) => line.kind === "removed").length,
  };
}
