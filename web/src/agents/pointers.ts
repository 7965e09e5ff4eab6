/**
 * Placing the server's problems in the YAML text and at the step they concern. The validation
 * errors name a JSON Pointer into the definition (e.g. `/steps/1/rules/0/when`), and CEL errors
 * the offset inside the expression; the YAML document knows where each node is in the text.
 */
import { isNode, isScalar, parseDocument, Scalar } from "yaml";

export interface Problem {
  path: string;
  code?: string;
  message: string;
  offset?: number;
}

export interface PlacedProblem extends Problem {
  from: number;
  to: number;
  /** The id of the step the problem is in, if any. */
  step: string | null;
}

export function pointerSegments(pointer: string): string[] {
  if (pointer === "" || pointer === "/") return [];
  return pointer
    .replace(/^\//, "")
    .split("/")
    .map((segment) => segment.replace(/~1/g, "/").replace(/~0/g, "~"));
}

function key(segment: string): string | number {
  return /^\d+$/.test(segment) ? Number(segment) : segment;
}

/** The id of the step `/steps/<i>/…` points into. */
export function stepOfPointer(steps: readonly { id: string }[], pointer: string): string | null {
  const segments = pointerSegments(pointer);
  if (segments[0] !== "steps" || segments[1] === undefined || !/^\d+$/.test(segments[1])) return null;
  return steps[Number(segments[1])]?.id ?? null;
}

/**
 * Where each problem is in `text`: the node its pointer names (or the nearest ancestor that
 * exists: a missing field is reported where it belongs), narrowed to the CEL error's offset
 * for a one-line expression.
 */
export function placeProblems(
  text: string,
  problems: readonly Problem[],
  steps: readonly { id: string }[],
): PlacedProblem[] {
  const document = parseDocument(text, { keepSourceTokens: true });
  const fallback = { from: 0, to: Math.min(text.length, Math.max(1, text.indexOf("\n"))) };
  return problems.map((problem) => {
    const segments = pointerSegments(problem.path).map(key);
    let place = fallback;
    for (let length = segments.length; length >= 0; length -= 1) {
      const node: unknown =
        length === 0 ? document.contents : document.getIn(segments.slice(0, length), true);
      if (isNode(node) && node.range) {
        const [start, valueEnd] = node.range;
        place = { from: start, to: Math.max(start + 1, valueEnd) };
        if (length === segments.length && isScalar(node) && typeof problem.offset === "number") {
          place = narrow(node, problem.offset, place);
        }
        break;
      }
    }
    return { ...problem, ...place, step: stepOfPointer(steps, problem.path) };
  });
}

function narrow(node: Scalar, offset: number, place: { from: number; to: number }) {
  const quote = node.type === Scalar.QUOTE_DOUBLE || node.type === Scalar.QUOTE_SINGLE ? 1 : 0;
  if (node.type !== Scalar.PLAIN && quote === 0) return place;
  const from = Math.min(place.to - 1, place.from + quote + offset);
  return { from, to: Math.min(place.to, from + 1) };
}
