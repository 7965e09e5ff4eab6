import { describe, expect, it } from "vitest";
import { edgeKey, fromSubgraph, mergeNeighbours, mergePath, otherEnd } from "./model";
import {
  ASSET,
  CONTACT_1,
  CONTACT_2,
  HOSPITAL,
  PRODUCT,
  TICKET,
  contactNeighbours,
  edges,
  pathToProduct,
  subgraphDepth1,
} from "./testData";

describe("drawn graph", () => {
  it("takes a subgraph's nodes with depth, parent and which were expanded", () => {
    const graph = fromSubgraph(subgraphDepth1(), 1);
    expect([...graph.nodes.keys()]).toEqual([HOSPITAL, CONTACT_1, CONTACT_2, ASSET]);
    expect(graph.nodes.get(HOSPITAL)?.parent).toBeNull();
    expect(graph.nodes.get(CONTACT_1)).toMatchObject({ depth: 1, parent: HOSPITAL, object: "contact" });
    expect(graph.edges.size).toBe(3);
    // Depth 1 asked: only the root's neighbours were fetched.
    expect([...graph.expanded]).toEqual([HOSPITAL]);
    expect(graph.nodes.get(HOSPITAL)?.record).not.toHaveProperty("depth");
  });

  it("counts every node above the asked depth as expanded", () => {
    const graph = fromSubgraph(subgraphDepth1(), 2);
    expect(new Set(graph.expanded)).toEqual(new Set([HOSPITAL, CONTACT_1, CONTACT_2, ASSET]));
  });

  it("merges an expansion without duplicating nodes or edges", () => {
    const before = fromSubgraph(subgraphDepth1(), 1);
    const after = mergeNeighbours(before, CONTACT_1, contactNeighbours());
    // The hospital came back in the answer: still one node, one contact.account edge.
    expect([...after.nodes.keys()]).toEqual([HOSPITAL, CONTACT_1, CONTACT_2, ASSET, TICKET]);
    expect([...after.edges.keys()].filter((k) => k === edgeKey(edges.c1))).toHaveLength(1);
    expect(after.edges.size).toBe(4);
    expect(after.nodes.get(TICKET)).toMatchObject({ depth: 2, parent: CONTACT_1 });
    expect(after.nodes.get(HOSPITAL)?.depth).toBe(0);
    expect(after.expanded.has(CONTACT_1)).toBe(true);
    // Immutable: the graph before is unchanged.
    expect(before.nodes.has(TICKET)).toBe(false);
    // Expanding twice changes nothing more.
    const again = mergeNeighbours(after, CONTACT_1, contactNeighbours());
    expect(again.nodes.size).toBe(after.nodes.size);
    expect(again.edges.size).toBe(after.edges.size);
  });

  it("ignores an expansion of a node that is not drawn", () => {
    const graph = fromSubgraph(subgraphDepth1(), 1);
    expect(mergeNeighbours(graph, "nope", contactNeighbours())).toBe(graph);
  });

  it("adds a path's records and edges beyond the neighbourhood", () => {
    const graph = mergePath(fromSubgraph(subgraphDepth1(), 1), pathToProduct());
    expect(graph.nodes.get(PRODUCT)).toMatchObject({ depth: 2, parent: ASSET });
    expect(graph.edges.has(edgeKey(edges.product))).toBe(true);
    expect(graph.nodes.size).toBe(5);
    expect(mergePath(graph, { found: false, nodes: [], edges: [] })).toBe(graph);
  });

  it("tells the other end of an edge", () => {
    expect(otherEnd(edges.c1, HOSPITAL)).toBe(CONTACT_1);
    expect(otherEnd(edges.c1, CONTACT_1)).toBe(HOSPITAL);
  });
});
