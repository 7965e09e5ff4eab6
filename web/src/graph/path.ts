/** A found shortest path, as what to highlight on the drawn graph and in the list. */
import type { GraphPath } from "../api/graph";
import { edgeKey } from "./model";

export interface Highlight {
  nodes: ReadonlySet<string>;
  edges: ReadonlySet<string>;
}

export const NO_HIGHLIGHT: Highlight = { nodes: new Set(), edges: new Set() };

export function pathHighlight(path: GraphPath | null): Highlight {
  if (!path?.found) return NO_HIGHLIGHT;
  return {
    nodes: new Set(path.nodes.map((n) => n.id)),
    edges: new Set(path.edges.map(edgeKey)),
  };
}
