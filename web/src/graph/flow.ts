/** The drawn graph as @xyflow/react nodes and edges (positions from the layered layout). */
import { MarkerType, type Edge, type Node } from "@xyflow/react";
import type { GraphEdge } from "../api/graph";
import { swatchOf } from "./colors";
import { layoutColumns } from "./layout";
import { edgeKey, type DrawnGraph, type DrawnNode } from "./model";
import type { Highlight } from "./path";

export interface RecordNodeData extends Record<string, unknown> {
  id: string;
  object: string;
  title: string;
  typeLabel: string;
  swatch: number;
  isRoot: boolean;
  expanded: boolean;
  onPath: boolean;
  withheld: number;
}

export type RecordFlowNode = Node<RecordNodeData, "record">;

export interface Labels {
  title: (node: DrawnNode) => string;
  typeLabel: (object: string) => string;
  relation: (edge: GraphEdge) => string;
}

/**
 * Which sides an edge leaves and enters by, so it runs between the columns rather than
 * looping round a node: a relation may point left (a contact to its account) or right.
 */
export function handles(sourceX: number, targetX: number): { sourceHandle: string; targetHandle: string } {
  if (sourceX > targetX) return { sourceHandle: "left-out", targetHandle: "right-in" };
  if (sourceX < targetX) return { sourceHandle: "right-out", targetHandle: "left-in" };
  return { sourceHandle: "right-out", targetHandle: "right-in" };
}

export function toFlow(
  graph: DrawnGraph,
  labels: Labels,
  highlight: Highlight,
): { nodes: RecordFlowNode[]; edges: Edge[] } {
  const positions = layoutColumns(graph);
  const nodes: RecordFlowNode[] = [...graph.nodes.values()].map((node) => {
    const title = labels.title(node);
    const typeLabel = labels.typeLabel(node.object);
    return {
      id: node.id,
      type: "record",
      position: positions.get(node.id) ?? { x: 0, y: 0 },
      ariaLabel: `${typeLabel}: ${title}`,
      className: highlight.nodes.has(node.id) ? "graph-flow-node on-path" : "graph-flow-node",
      data: {
        id: node.id,
        object: node.object,
        title,
        typeLabel,
        swatch: swatchOf(node.object),
        isRoot: node.id === graph.root,
        expanded: graph.expanded.has(node.id),
        onPath: highlight.nodes.has(node.id),
        withheld: node.record.meta?.withheld?.length ?? 0,
      },
    };
  });
  const edges: Edge[] = [...graph.edges.values()].map((edge) => {
    const key = edgeKey(edge);
    const onPath = highlight.edges.has(key);
    const label = labels.relation(edge);
    return {
      id: key,
      source: edge.source,
      target: edge.target,
      ...handles(positions.get(edge.source)?.x ?? 0, positions.get(edge.target)?.x ?? 0),
      label,
      ariaLabel: label,
      className: onPath ? "graph-flow-edge on-path" : "graph-flow-edge",
      animated: onPath,
      markerEnd: { type: MarkerType.ArrowClosed },
      focusable: false,
    };
  });
  return { nodes, edges };
}
