/**
 * The drawn graph: what the API answered (a subgraph, then neighbours of expanded nodes, then
 * a path), merged into one set of nodes and edges without duplicates. Pure functions over
 * immutable values; the page keeps one `DrawnGraph` in state.
 *
 * Only what the API sent is ever drawn: a record the caller may not see never appears (the
 * server leaves it and its edges out), and a node's values are the record as presented —
 * withheld fields stay withheld (`meta.withheld`).
 */
import type { GraphEdge, GraphPath, Neighbours, Subgraph } from "../api/graph";
import type { RecordData } from "../api/types";

export interface DrawnNode {
  id: string;
  object: string;
  /** Edges from the start record, as first reached (0 for the start record). */
  depth: number;
  /** The node it was reached from (layout keeps children near their parent); null for roots. */
  parent: string | null;
  record: RecordData;
}

export interface DrawnGraph {
  root: string;
  /** In the order they were added: breadth first from the root, then expansions. */
  nodes: ReadonlyMap<string, DrawnNode>;
  edges: ReadonlyMap<string, GraphEdge>;
  /** Nodes whose neighbours were fetched (the root's subgraph counts as expanded). */
  expanded: ReadonlySet<string>;
  /** The subgraph hit max_nodes: there is more than is drawn. */
  truncated: boolean;
}

export function edgeKey(edge: GraphEdge): string {
  return `${edge.relation}|${edge.source}|${edge.target}`;
}

/** A subgraph node as the record it is (without the subgraph's `depth`). */
function recordOf(node: Subgraph["nodes"][number]): RecordData {
  return Object.fromEntries(Object.entries(node).filter(([key]) => key !== "depth")) as RecordData;
}

/**
 * The graph of a subgraph answer (asked with `depth`): its nodes by depth, each with a parent
 * one level up.
 */
export function fromSubgraph(subgraph: Subgraph, depth: number): DrawnGraph {
  const nodes = new Map<string, DrawnNode>();
  const depthOf = new Map(subgraph.nodes.map((n) => [n.id, n.depth]));
  const parentOf = new Map<string, string>();
  for (const edge of subgraph.edges) {
    for (const [here, other] of [
      [edge.source, edge.target],
      [edge.target, edge.source],
    ] as const) {
      const depth = depthOf.get(here);
      const otherDepth = depthOf.get(other);
      if (depth === undefined || otherDepth === undefined) continue;
      if (otherDepth === depth - 1 && !parentOf.has(here)) parentOf.set(here, other);
    }
  }
  for (const node of subgraph.nodes) {
    nodes.set(node.id, {
      id: node.id,
      object: node.object,
      depth: node.depth,
      parent: parentOf.get(node.id) ?? null,
      record: recordOf(node),
    });
  }
  const edges = new Map<string, GraphEdge>();
  for (const edge of subgraph.edges) {
    if (nodes.has(edge.source) && nodes.has(edge.target)) edges.set(edgeKey(edge), edge);
  }
  // Every node above the asked depth had all its (filtered) neighbours fetched.
  const expanded = new Set(subgraph.nodes.filter((n) => n.depth < depth).map((n) => n.id));
  return { root: subgraph.root, nodes, edges, expanded, truncated: subgraph.truncated };
}

/**
 * Merge the neighbours of `nodeId` into the graph: new records one level deeper than it,
 * edges added once (by relation, source and target), records already drawn kept as they are
 * (their depth and parent do not change) but refreshed with the newer presentation.
 */
export function mergeNeighbours(graph: DrawnGraph, nodeId: string, answer: Neighbours): DrawnGraph {
  const from = graph.nodes.get(nodeId);
  if (!from) return graph;
  const nodes = new Map(graph.nodes);
  const edges = new Map(graph.edges);
  for (const { edge, node } of answer.neighbours) {
    const known = nodes.get(node.id);
    if (known) {
      nodes.set(node.id, { ...known, record: node });
    } else {
      nodes.set(node.id, {
        id: node.id,
        object: node.object,
        depth: from.depth + 1,
        parent: nodeId,
        record: node,
      });
    }
    edges.set(edgeKey(edge), edge);
  }
  const expanded = new Set(graph.expanded);
  expanded.add(nodeId);
  return { ...graph, nodes, edges, expanded };
}

/** Add a found path's records and edges (the path may leave the drawn neighbourhood). */
export function mergePath(graph: DrawnGraph, path: GraphPath): DrawnGraph {
  if (!path.found) return graph;
  const nodes = new Map(graph.nodes);
  const edges = new Map(graph.edges);
  let previous: DrawnNode | null = null;
  for (const record of path.nodes) {
    const known = nodes.get(record.id);
    const node: DrawnNode = known ?? {
      id: record.id,
      object: record.object,
      depth: previous ? previous.depth + 1 : 0,
      parent: previous?.id ?? null,
      record,
    };
    nodes.set(record.id, node);
    previous = node;
  }
  for (const edge of path.edges) edges.set(edgeKey(edge), edge);
  return { ...graph, nodes, edges };
}

/** The other end of an edge, seen from `id`. */
export function otherEnd(edge: GraphEdge, id: string): string {
  return edge.source === id ? edge.target : edge.source;
}
