import {
  Background,
  Controls,
  Handle,
  Position,
  ReactFlow,
  useReactFlow,
  type NodeProps,
} from "@xyflow/react";
import "@xyflow/react/dist/style.css";
import { useEffect, useMemo } from "react";
import { useTranslation } from "react-i18next";
import { Link } from "react-router";
import type { Edge } from "@xyflow/react";
import type { RecordFlowNode } from "../../graph/flow";

interface CanvasActions {
  onExpand: (id: string) => void;
  pending: ReadonlySet<string>;
}

/** One record on the canvas: its object named in words and colour, its title, its actions. */
function RecordNode({ data }: NodeProps<RecordFlowNode>) {
  const { t } = useTranslation();
  return (
    <div className={`graph-node graph-swatch-border-${data.swatch}`}>
      <Handle id="left-in" type="target" position={Position.Left} isConnectable={false} />
      <Handle id="left-out" type="source" position={Position.Left} isConnectable={false} />
      <div className="graph-node-head">
        <span className={`graph-type graph-swatch-${data.swatch}`}>{data.typeLabel}</span>
        {data.isRoot && <span className="graph-badge">{t("graph.explorer.startBadge")}</span>}
        {data.onPath && <span className="graph-badge graph-badge-path">{t("graph.explorer.onPath")}</span>}
      </div>
      <p className="graph-node-title">{data.title}</p>
      <div className="graph-node-actions nodrag nopan">
        {data.expanded ? (
          <span className="graph-node-state">{t("graph.explorer.expanded")}</span>
        ) : (
          <button
            type="button"
            className="button button-quiet graph-small"
            data-expand={data.id}
            aria-label={t("graph.explorer.expandNamed", { title: data.title })}
          >
            {t("graph.explorer.expand")}
          </button>
        )}
        <Link
          to={`/records/${data.object}/${data.id}`}
          className="graph-small"
          aria-label={t("graph.explorer.openNamed", { title: data.title })}
          onClick={(event) => event.stopPropagation()}
        >
          {t("graph.explorer.open")}
        </Link>
        {data.withheld > 0 && (
          <span className="graph-node-state" title={t("graph.explorer.withheldLong", { count: data.withheld })}>
            {t("graph.explorer.withheld", { count: data.withheld })}
          </span>
        )}
      </div>
      <Handle id="right-in" type="target" position={Position.Right} isConnectable={false} />
      <Handle id="right-out" type="source" position={Position.Right} isConnectable={false} />
    </div>
  );
}

const nodeTypes = { record: RecordNode };

/** Fit the view whenever records are added (after React Flow has measured them). */
function FitOnGrowth({ count }: { count: number }) {
  const { fitView } = useReactFlow();
  useEffect(() => {
    const frame = requestAnimationFrame(() => void fitView({ padding: 0.15, maxZoom: 1.1 }));
    return () => cancelAnimationFrame(frame);
  }, [count, fitView]);
  return null;
}

export function GraphCanvas({
  nodes,
  edges,
  label,
  onExpand,
  pending,
}: {
  nodes: RecordFlowNode[];
  edges: Edge[];
  label: string;
} & CanvasActions) {
  const { t } = useTranslation();
  const ariaLabelConfig = useMemo(
    () => ({
      "node.a11yDescription.default": t("graph.flow.nodeHelp"),
      "node.a11yDescription.keyboardDisabled": t("graph.flow.nodeHelp"),
      "edge.a11yDescription.default": t("graph.flow.edgeHelp"),
      "controls.ariaLabel": t("graph.flow.controls"),
      "controls.zoomIn.ariaLabel": t("graph.flow.zoomIn"),
      "controls.zoomOut.ariaLabel": t("graph.flow.zoomOut"),
      "controls.fitView.ariaLabel": t("graph.flow.fitView"),
    }),
    [t],
  );
  return (
    <div className="graph-canvas">
      <ReactFlow
        aria-label={label}
        nodes={nodes}
        edges={edges}
        nodeTypes={nodeTypes}
        nodesDraggable={false}
        nodesConnectable={false}
        elementsSelectable={false}
        edgesFocusable={false}
        minZoom={0.2}
        ariaLabelConfig={ariaLabelConfig}
        onNodeClick={(event, node) => {
          // A click on the Expand button or anywhere on a record expands it (once).
          const target = event.target as HTMLElement;
          if (target.closest("a")) return;
          if (!node.data.expanded && !pending.has(node.id)) onExpand(node.id);
        }}
        proOptions={{ hideAttribution: false }}
      >
        <Background />
        <Controls showInteractive={false} />
        <FitOnGrowth count={nodes.length} />
      </ReactFlow>
    </div>
  );
}
