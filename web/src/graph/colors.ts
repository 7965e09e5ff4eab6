/**
 * Which swatch an object's nodes wear (graph.css `.graph-swatch-0` … `-7`, each dark enough
 * for white text). Colour is never the only cue: every node also names its object.
 */
export const SWATCHES = 8;

const FIXED: Record<string, number> = {
  account: 0,
  contact: 1,
  asset: 2,
  opportunity: 3,
  ticket: 4,
  activity: 5,
  order: 6,
  product: 7,
};

export function swatchOf(object: string): number {
  const fixed = FIXED[object];
  if (fixed !== undefined) return fixed;
  let hash = 0;
  for (const char of object) hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
  return hash % SWATCHES;
}
