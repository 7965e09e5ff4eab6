/**
 * The THEN chain drawn with @xyflow/react: the trigger, then every step (branches side by side,
 * recovery steps to the right). Read-only as a drawing — steps are added, moved and edited in
 * the list beside it (keyboard-usable); clicking a node opens that step there.
 */
import "@xyflow/react/dist/style.css";
import { Controls, MarkerType, ReactFlow, type Edge, type Node } from "@xyflow/react";
import { useMemo } from "react";
import { useTranslation } from "react-i18next";
import { chainFlow, START } from "../../scenario-builder/chain";
import type { Definition } from "../../scenario-builder/definition";
import { actionLabel } from "./actionLabel";

interface Props {
  definition: Definition;
  trigger: string;
  selected: string | null;
  onSelect: (pointer: string | null) => void;
  /** Step pointers with problems (drawn in the error colour). */
  withErrors: Set<string>;
}

export function FlowView({ definition, trigger, selected, onSelect, withErrors }: Props) {
  const { t } = useTranslation();
  const { nodes, edges } = useMemo(() => {
    const flow = chainFlow(definition, trigger);
    const nodes: Node[] = flow.nodes.map((node) => ({
      id: node.id,
      position: { x: node.x, y: node.y },
      type: node.kind === "start" ? "input" : node.kind === "branch" ? "default" : "default",
      className: [
        `flow-node flow-${node.kind}`,
        node.id === selected ? "selected-step" : "",
        withErrors.has(node.id) ? "flow-error" : "",
      ].join(" "),
      selected: node.id === selected,
      data: {
        label:
          node.kind === "start" ? (
            <span>
              <strong>{t("builder.when.keyword")}</strong> {node.label || t("builder.flow.noTrigger")}
            </span>
          ) : (
            <span>
              <strong>{node.label || t("builder.then.unnamed")}</strong>
              <br />
              <span className="flow-action">
                {node.kind === "branch" ? t("builder.then.branch") : actionLabel(t, node.action)}
              </span>
            </span>
          ),
      },
    }));
    const edges: Edge[] = flow.edges.map((edge) => ({
      id: edge.id,
      source: edge.source,
      target: edge.target,
      label: edge.kind === "next" ? undefined : t(`builder.flow.${edge.kind}`),
      className: `flow-edge flow-edge-${edge.kind}`,
      markerEnd: { type: MarkerType.ArrowClosed },
    }));
    return { nodes, edges };
  }, [definition, trigger, selected, withErrors, t]);

  return (
    <div className="flow-view" role="region" aria-label={t("builder.flow.label")}>
      {/* Drawn afresh when steps are added or removed, so the whole chain is fitted in view. */}
      <ReactFlow
        key={nodes.length}
        nodes={nodes}
        edges={edges}
        fitView
        fitViewOptions={FIT}
        nodesDraggable={false}
        nodesConnectable={false}
        edgesFocusable={false}
        deleteKeyCode={null}
        minZoom={0.2}
        onNodeClick={(_, node) => onSelect(node.id === START ? null : node.id)}
        ariaLabelConfig={{
          "node.a11yDescription.default": t("builder.flow.nodeHelp"),
          "node.a11yDescription.keyboardDisabled": t("builder.flow.nodeHelp"),
          "edge.a11yDescription.default": t("builder.flow.nodeHelp"),
          "controls.ariaLabel": t("builder.flow.controls"),
          "controls.zoomIn.ariaLabel": t("builder.flow.zoomIn"),
          "controls.zoomOut.ariaLabel": t("builder.flow.zoomOut"),
          "controls.fitView.ariaLabel": t("builder.flow.fit"),
          "controls.interactive.ariaLabel": t("builder.flow.interactive"),
          "handle.ariaLabel": t("builder.flow.handle"),
        }}
      >
        <Controls showInteractive={false} />
      </ReactFlow>
    </div>
  );
}

const FIT = { padding: 0.2, maxZoom: 1 };

