import { describe, expect, it } from "vitest";
import { COLUMN_WIDTH, ROW_HEIGHT, layoutColumns } from "./layout";
import { fromSubgraph, mergeNeighbours } from "./model";
import { ASSET, CONTACT_1, CONTACT_2, HOSPITAL, TICKET, contactNeighbours, subgraphDepth1 } from "./testData";

describe("layered layout", () => {
  it("puts each distance in its own column and no two records on one spot", () => {
    const graph = mergeNeighbours(fromSubgraph(subgraphDepth1(), 1), CONTACT_1, contactNeighbours());
    const positions = layoutColumns(graph);
    expect(positions.size).toBe(graph.nodes.size);
    expect(positions.get(HOSPITAL)).toEqual({ x: 0, y: 0 });
    for (const id of [CONTACT_1, CONTACT_2, ASSET]) expect(positions.get(id)?.x).toBe(COLUMN_WIDTH);
    expect(positions.get(TICKET)?.x).toBe(2 * COLUMN_WIDTH);
    const spots = [...positions.values()].map((p) => `${p.x},${p.y}`);
    expect(new Set(spots).size).toBe(spots.length);
  });

  it("orders a column by object, then by arrival, centred on the start record", () => {
    const positions = layoutColumns(fromSubgraph(subgraphDepth1(), 1));
    // asset before contacts (by object name); the two contacts in the order they came.
    const column = [ASSET, CONTACT_1, CONTACT_2].map((id) => positions.get(id)?.y);
    expect(column).toEqual([-ROW_HEIGHT, 0, ROW_HEIGHT]);
  });

  it("keeps an expansion's records next to their parent's row", () => {
    const graph = mergeNeighbours(fromSubgraph(subgraphDepth1(), 1), CONTACT_1, contactNeighbours());
    const positions = layoutColumns(graph);
    expect(positions.get(TICKET)?.y).toBe(0); // alone in its column, centred like its parent
  });
});
