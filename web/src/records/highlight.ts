/**
 * Search snippets: the API sends plain text with `[start, end)` offsets of the matches; they
 * become text pieces and marked pieces that React renders as `<mark>` elements — never HTML
 * built from record data.
 */
export interface Piece {
  text: string;
  marked: boolean;
}

/** Splits `text` at the highlights (overlapping or out-of-range offsets are tolerated). */
export function highlightPieces(text: string, highlights: number[][]): Piece[] {
  const chars = Array.from(text); // offsets count characters (code points), as Python does
  const ranges = highlights
    .filter((h) => h.length === 2)
    .map(([start = 0, end = 0]) => [Math.max(0, start), Math.min(chars.length, end)] as const)
    .filter(([start, end]) => end > start)
    .sort((a, b) => a[0] - b[0]);
  const pieces: Piece[] = [];
  let at = 0;
  for (const [start, end] of ranges) {
    if (end <= at) continue;
    const from = Math.max(start, at);
    if (from > at) pieces.push({ text: chars.slice(at, from).join(""), marked: false });
    pieces.push({ text: chars.slice(from, end).join(""), marked: true });
    at = end;
  }
  if (at < chars.length) pieces.push({ text: chars.slice(at).join(""), marked: false });
  return pieces;
}
