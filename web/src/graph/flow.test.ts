import { MarkerType } from "@xyflow/react";
import { describe, expect, it } from "vitest";
import { asText } from "../records/text";
import { swatchOf, SWATCHES } from "./colors";
import { handles, toFlow, type Labels } from "./flow";
import { edgeKey, fromSubgraph, mergePath } from "./model";
import { NO_HIGHLIGHT, pathHighlight } from "./path";
import { ASSET, CONTACT_1, HOSPITAL, PRODUCT, edges, pathToProduct, subgraphDepth1 } from "./testData";

const labels: Labels = {
  title: (node) => asText(node.record.name ?? node.record.full_name ?? node.id),
  typeLabel: (object) => object.toUpperCase(),
  relation: (edge) => edge.relation.split(".")[1] ?? edge.relation,
};

describe("graph → React Flow", () => {
  it("makes one record node per record, named by type and title", () => {
    const { nodes, edges: flowEdges } = toFlow(fromSubgraph(subgraphDepth1(), 1), labels, NO_HIGHLIGHT);
    expect(nodes.map((n) => n.id)).toEqual([HOSPITAL, CONTACT_1, expect.any(String), ASSET]);
    const contact = nodes.find((n) => n.id === CONTACT_1);
    expect(contact).toMatchObject({
      type: "record",
      ariaLabel: "CONTACT: 邓敏",
      data: { typeLabel: "CONTACT", title: "邓敏", isRoot: false, expanded: false, withheld: 1 },
    });
    expect(nodes[0]?.data).toMatchObject({ isRoot: true, expanded: true });
    expect(flowEdges).toHaveLength(3);
    const edge = flowEdges.find((e) => e.id === edgeKey(edges.c1));
    // contact.account points from the contact (right column) back to the hospital (left).
    expect(edge).toMatchObject({
      source: CONTACT_1,
      target: HOSPITAL,
      sourceHandle: "left-out",
      targetHandle: "right-in",
      label: "account",
      animated: false,
    });
    expect(edge?.markerEnd).toEqual({ type: MarkerType.ArrowClosed });
  });

  it("highlights a path's records and edges, in words as well as style", () => {
    const path = pathToProduct();
    const graph = mergePath(fromSubgraph(subgraphDepth1(), 1), path);
    const highlight = pathHighlight(path);
    expect([...highlight.nodes]).toEqual([HOSPITAL, ASSET, PRODUCT]);
    const { nodes, edges: flowEdges } = toFlow(graph, labels, highlight);
    const onPath = nodes.filter((n) => n.data.onPath).map((n) => n.id);
    expect(onPath).toEqual([HOSPITAL, ASSET, PRODUCT]);
    expect(nodes.find((n) => n.id === PRODUCT)?.className).toContain("on-path");
    expect(nodes.find((n) => n.id === CONTACT_1)?.className).not.toContain("on-path");
    const highlighted = flowEdges.filter((e) => e.className?.includes("on-path")).map((e) => e.id);
    expect(highlighted).toEqual([edgeKey(edges.asset), edgeKey(edges.product)]);
    expect(flowEdges.find((e) => e.id === edgeKey(edges.product))?.animated).toBe(true);
  });

  it("highlights nothing without a found path", () => {
    expect(pathHighlight(null)).toBe(NO_HIGHLIGHT);
    expect(pathHighlight({ found: false, nodes: [], edges: [] }).nodes.size).toBe(0);
  });

  it("runs edges between columns, either way, and round the side within one", () => {
    expect(handles(0, 300)).toEqual({ sourceHandle: "right-out", targetHandle: "left-in" });
    expect(handles(300, 0)).toEqual({ sourceHandle: "left-out", targetHandle: "right-in" });
    expect(handles(300, 300)).toEqual({ sourceHandle: "right-out", targetHandle: "right-in" });
  });

  it("gives each object a stable swatch", () => {
    expect(swatchOf("account")).toBe(0);
    expect(swatchOf("contact")).toBe(1);
    expect(swatchOf("custom_thing")).toBe(swatchOf("custom_thing"));
    expect(swatchOf("custom_thing")).toBeLessThan(SWATCHES);
  });
});
