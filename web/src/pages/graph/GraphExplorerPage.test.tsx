import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import axe from "axe-core";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  CONTACT_1,
  HOSPITAL,
  OBJECTS,
  PRODUCT,
  contactNeighbours,
  noPath,
  pathToProduct,
  subgraphDepth1,
} from "../../graph/testData";
import { startSession } from "../../session/store";
import { admin } from "../../test/fixtures";
import { fakeKindred } from "../../test/fakeKindred";
import { json, renderApp, type Call } from "../../test/server";

beforeAll(() => {
  // React Flow measures its pane; jsdom has no layout (sizes stay 0, which is fine here).
  globalThis.ResizeObserver = class {
    observe() {}
    unobserve() {}
    disconnect() {}
  };
});

/** axe-core in jsdom (colour contrast needs layout: the browser journeys check it). */
async function axeViolations(): Promise<string[]> {
  const result = await axe.run(document.documentElement, {
    rules: { "color-contrast": { enabled: false } },
    resultTypes: ["violations"],
  });
  return result.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
}

function graphServer(options: { path?: "found" | "none" } = {}) {
  return fakeKindred({
    override: (call: Call) => {
      if (call.method === "GET" && call.path === "/api/v1/metadata/objects") return json({ data: OBJECTS });
      if (call.path === `/api/v1/graph/${HOSPITAL}/subgraph`) return json(subgraphDepth1());
      if (call.path === `/api/v1/graph/${CONTACT_1}/neighbours`) return json(contactNeighbours());
      if (call.path === "/api/v1/search") {
        return json({
          query: call.query.get("q"),
          mode: "fulltext",
          sources: ["records"],
          data: [
            {
              source: "records",
              id: PRODUCT,
              object: "product",
              title: "Haematology analyzer",
              score: 1,
              snippet: null,
              matched_fields: ["name"],
              matched_by: ["fulltext"],
            },
          ],
        });
      }
      if (call.path === "/api/v1/graph/path") {
        return json(options.path === "none" ? noPath : pathToProduct());
      }
      return undefined;
    },
  });
}

async function openHospital(fake = graphServer()) {
  renderApp(`/graph/${HOSPITAL}`, fake.api);
  await screen.findByText("4 records, 3 relations");
  return fake;
}

// React Flow in jsdom is slow on a busy machine: generous per-test time (no timing asserted).
describe("graph explorer", { timeout: 30_000 }, () => {
  beforeEach(() => startSession("tok", 3600, admin));

  it("draws the start record's neighbourhood, each record named by type", async () => {
    const fake = await openHospital();
    expect(document.title).toBe("Customer graph: 合肥市第九人民医院 #12 — Kindred");
    const subgraph = fake.calls.find((c) => c.path.endsWith("/subgraph"));
    expect(subgraph?.query.get("depth")).toBe("1");
    expect(subgraph?.query.has("relation")).toBe(false);
    const canvas = screen.getByRole("application", { name: "Graph around 合肥市第九人民医院 #12" });
    // Nodes stay `visibility: hidden` until React Flow measures them, which jsdom cannot:
    // read them by their labels.
    expect(canvas.querySelector('[aria-label="Contact: 邓敏"]')?.getAttribute("role")).toBe("group");
    const node = canvas.querySelector('[aria-label="Contact: 邓敏"]');
    expect(node?.querySelector('button[aria-label="Expand 邓敏"]')?.textContent).toBe("Expand");
    expect(node?.querySelector('a[aria-label="Open 邓敏"]')?.getAttribute("href")).toBe(
      `/records/contact/${CONTACT_1}`,
    );
    const legend = screen.getByRole("list", { name: "Record types" });
    expect(within(legend).getAllByRole("listitem").map((li) => li.textContent)).toEqual([
      "Account",
      "Asset",
      "Contact",
    ]);
    expect(await axeViolations()).toEqual([]);
  });

  it("lists the same records and relations, and expands without duplicates", async () => {
    const fake = await openHospital();
    const user = userEvent.setup();
    await user.click(screen.getByRole("button", { name: "List view" }));
    const records = screen.getByRole("region", { name: "Records (4)" });
    expect(within(records).getByRole("row", { name: /邓敏/ }).textContent).toContain("1 fields withheld");
    const relations = screen.getByRole("region", { name: "Relations (3)" });
    expect(within(relations).getAllByRole("row")).toHaveLength(4);
    await user.click(within(records).getByRole("button", { name: "Expand 邓敏" }));
    expect(await screen.findByText("5 records, 4 relations")).toBeTruthy();
    const after = screen.getByRole("region", { name: "Records (5)" });
    expect(within(after).getByRole("row", { name: /Screen flickers/ }).textContent).toContain("Ticket");
    expect(within(after).getAllByRole("row", { name: /合肥市第九人民医院/ })).toHaveLength(1);
    expect(within(after).queryByRole("button", { name: "Expand 邓敏" })).toBeNull();
    expect(await axeViolations()).toEqual([]);
    expect(fake.calls.filter((c) => c.path.endsWith("/neighbours"))).toHaveLength(1);
  });

  it("sends the chosen relation and depth to the server", async () => {
    const fake = await openHospital();
    const user = userEvent.setup();
    await user.selectOptions(screen.getByLabelText("Depth (hops)"), "2");
    await user.click(screen.getByText("Relations (all)"));
    await user.click(screen.getByRole("checkbox", { name: "Contact → Account" }));
    await waitFor(() => {
      const last = fake.calls.filter((c) => c.path.endsWith("/subgraph")).at(-1);
      expect(last?.query.getAll("relation")).toEqual(["contact.account"]);
      expect(last?.query.get("depth")).toBe("2");
    });
    expect(screen.getByText("Relations (1 chosen)")).toBeTruthy();
  });

  it("finds a shortest path and highlights it", async () => {
    const fake = await openHospital();
    const user = userEvent.setup();
    await user.type(screen.getByRole("combobox", { name: "Path to" }), "Haema");
    await user.click(await screen.findByRole("option", { name: /Haematology analyzer/ }, { timeout: 3000 }));
    await user.click(screen.getByRole("button", { name: "Find path" }));
    expect(
      await screen.findByText("Path of 2 hops from 合肥市第九人民医院 #12 to Haematology analyzer:"),
    ).toBeTruthy();
    const call = fake.calls.find((c) => c.path === "/api/v1/graph/path");
    expect([call?.query.get("from"), call?.query.get("to"), call?.query.get("max_depth")]).toEqual([
      HOSPITAL,
      PRODUCT,
      "4",
    ]);
    await user.click(screen.getByRole("button", { name: "List view" }));
    const records = screen.getByRole("region", { name: "Records (5)" });
    const onPath = within(records)
      .getAllByRole("row")
      .filter((row) => row.textContent.includes("On path"))
      .map((row) => within(row).getByRole("rowheader").textContent);
    expect(onPath).toEqual(["合肥市第九人民医院 #12", "laboratory unit", "Haematology analyzer"]);
  });

  it("says when there is no path within the hops asked", async () => {
    await openHospital(graphServer({ path: "none" }));
    const user = userEvent.setup();
    await user.type(screen.getByRole("combobox", { name: "Path to" }), "Haema");
    await user.keyboard("{ArrowDown}");
    await screen.findByRole("option", { name: /Haematology analyzer/ });
    await user.keyboard("{Enter}");
    await user.selectOptions(screen.getByLabelText("At most (hops)"), "2");
    await user.click(screen.getByRole("button", { name: "Find path" }));
    expect(
      await screen.findByText(
        "No path within 2 hops between 合肥市第九人民医院 #12 and Haematology analyzer (through records you may see).",
      ),
    ).toBeTruthy();
  });

  it("asks for a start record when none is chosen, and opens the one picked", async () => {
    const fake = graphServer();
    const { router } = renderApp("/graph", fake.api);
    expect(await screen.findByText("Choose a record to draw its neighbourhood.")).toBeTruthy();
    const user = userEvent.setup();
    await user.type(screen.getByRole("combobox", { name: "Start record" }), "Haema");
    await user.click(await screen.findByRole("option", { name: /Haematology analyzer/ }));
    await waitFor(() => expect(router.state.location.pathname).toBe(`/graph/${PRODUCT}`));
  });
});
