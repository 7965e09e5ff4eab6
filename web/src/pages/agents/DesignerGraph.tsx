/** The agent's steps drawn with @xyflow/react: one node per step, marked by kind, `needs` as
 * arrows (dashed into a step with a `when` guard), laid out left → right by dependency depth.
 * Clicking (or Enter on) a node selects its step; dragging from one node to another adds a
 * `needs` edge — the step form offers the same without a pointer. */
import {
  Background,
  Controls,
  Handle,
  MarkerType,
  Position,
  ReactFlow,
  type Connection,
  type Edge,
  type Node,
  type NodeProps,
} from "@xyflow/react";
import "@xyflow/react/dist/style.css";
import { useMemo } from "react";
import { useTranslation } from "react-i18next";
import type { StepKind } from "../../agents/definition";
import { stepGraph, type StepNode } from "../../agents/graph";
import type { StepDefinition } from "../../agents/definition";

type StepData = StepNode & { problems: number; selected: boolean; [key: string]: unknown };
type StepFlowNode = Node<StepData, "step">;

const KIND_MARK: Record<StepKind, string> = {
  rule: "≡",
  tool: "⚙",
  llm: "✦",
  human: "☺",
  agent: "◎",
};

function StepNodeView({ data }: NodeProps<StepFlowNode>) {
  const { t } = useTranslation();
  return (
    <div
      className={`agents-node agents-node-${data.kind}${data.selected ? " agents-node-selected" : ""}${
        data.problems > 0 ? " agents-node-problem" : ""
      }`}
    >
      <Handle type="target" position={Position.Left} />
      <p className="agents-node-kind">
        <span aria-hidden="true">{KIND_MARK[data.kind]}</span> {t(`agents.kinds.${data.kind}`)}
      </p>
      <p className="agents-node-title">{data.title}</p>
      {data.title !== data.id && <p className="agents-node-id">{data.id}</p>}
      {data.detail && <p className="agents-node-detail">{data.detail}</p>}
      {data.conditional && <p className="agents-node-flag">{t("agents.graph.conditional")}</p>}
      {data.onError !== "fail" && (
        <p className="agents-node-flag">{t(`agents.graph.onError.${data.onError}`)}</p>
      )}
      {data.problems > 0 && (
        <p className="agents-node-problems">{t("agents.graph.problems", { count: data.problems })}</p>
      )}
      <Handle type="source" position={Position.Right} />
    </div>
  );
}

const nodeTypes = { step: StepNodeView };

export function DesignerGraph({
  steps,
  selected,
  problems,
  onSelect,
  onConnect,
}: {
  steps: readonly StepDefinition[];
  selected: string | null;
  problems: Map<string, number>;
  onSelect: (id: string) => void;
  onConnect: ((source: string, target: string) => void) | null;
}) {
  const { t } = useTranslation();
  const graph = useMemo(() => stepGraph(steps), [steps]);
  const nodes = useMemo<StepFlowNode[]>(
    () =>
      graph.nodes.map((node) => ({
        id: node.id,
        type: "step",
        position: { x: node.x, y: node.y },
        data: { ...node, problems: problems.get(node.id) ?? 0, selected: node.id === selected },
        selected: node.id === selected,
        ariaLabel: t("agents.graph.nodeLabel", {
          id: node.id,
          kind: t(`agents.kinds.${node.kind}`),
        }),
      })),
    [graph, problems, selected, t],
  );
  const edges = useMemo<Edge[]>(
    () =>
      graph.edges.map((edge) => ({
        id: edge.id,
        source: edge.source,
        target: edge.target,
        markerEnd: { type: MarkerType.ArrowClosed },
        className: edge.conditional ? "agents-edge-conditional" : "agents-edge",
        ariaLabel: t("agents.graph.edgeLabel", { source: edge.source, target: edge.target }),
      })),
    [graph, t],
  );
  return (
    <div className="agents-graph" role="region" aria-label={t("agents.graph.label")}>
      <ReactFlow
        nodes={nodes}
        edges={edges}
        nodeTypes={nodeTypes}
        nodesDraggable={false}
        nodesConnectable={onConnect !== null}
        onNodeClick={(_, node) => onSelect(node.id)}
        onSelectionChange={({ nodes: chosen }) => {
          const first = chosen[0];
          if (first && first.id !== selected) onSelect(first.id);
        }}
        onConnect={(connection: Connection) => {
          if (onConnect && connection.source && connection.target) onConnect(connection.source, connection.target);
        }}
        fitView
        fitViewOptions={{ padding: 0.2 }}
        minZoom={0.3}
        maxZoom={1.5}
        proOptions={{ hideAttribution: false }}
      >
        <Background />
        <Controls showInteractive={false} />
      </ReactFlow>
      {graph.cycle.length > 0 && (
        <p className="field-error" role="alert">
          {t("agents.graph.cycle", { steps: graph.cycle.join(", ") })}
        </p>
      )}
    </div>
  );
}
