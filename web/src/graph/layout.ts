/**
 * A layered layout: one column per distance from the start record (left to right), each
 * column's records ordered by where their parent sits, then by object, then by when they were
 * reached — so an expansion lands next to the node it came from and nothing overlaps.
 */
import type { DrawnGraph } from "./model";

export const COLUMN_WIDTH = 300;
export const ROW_HEIGHT = 96;

export interface Point {
  x: number;
  y: number;
}

export function layoutColumns(graph: DrawnGraph): Map<string, Point> {
  const columns = new Map<number, string[]>();
  for (const node of graph.nodes.values()) {
    columns.set(node.depth, [...(columns.get(node.depth) ?? []), node.id]);
  }
  const positions = new Map<string, Point>();
  const rank = new Map<string, number>();
  const order = [...graph.nodes.keys()];
  const added = new Map(order.map((id, index) => [id, index]));
  for (const depth of [...columns.keys()].sort((a, b) => a - b)) {
    const ids = [...(columns.get(depth) ?? [])];
    ids.sort((a, b) => {
      const na = graph.nodes.get(a);
      const nb = graph.nodes.get(b);
      const pa = na?.parent ? (rank.get(na.parent) ?? Infinity) : -1;
      const pb = nb?.parent ? (rank.get(nb.parent) ?? Infinity) : -1;
      if (pa !== pb) return pa - pb;
      const byObject = (na?.object ?? "").localeCompare(nb?.object ?? "");
      if (byObject !== 0) return byObject;
      return (added.get(a) ?? 0) - (added.get(b) ?? 0);
    });
    const offset = ((ids.length - 1) * ROW_HEIGHT) / 2;
    ids.forEach((id, index) => {
      rank.set(id, index);
      positions.set(id, { x: depth * COLUMN_WIDTH, y: index * ROW_HEIGHT - offset });
    });
  }
  return positions;
}
