import { highlightPieces } from "../records/highlight";

/** Snippet text with its matches in `<mark>`: React elements only, no HTML from the data. */
export function Highlighted({ text, highlights }: { text: string; highlights: number[][] }) {
  return (
    <>
      {highlightPieces(text, highlights).map((piece, index) =>
        piece.marked ? <mark key={index}>{piece.text}</mark> : <span key={index}>{piece.text}</span>,
      )}
    </>
  );
}
