import { useMemo, useState } from "react";
import { useTranslation } from "react-i18next";
import { useNavigate, useParams } from "react-router";
import { useGraphCalls, useSubgraph, type GraphEdge, type GraphFilters, type GraphPath, type Neighbours } from "../../api/graph";
import { useObjects } from "../../api/queries";
import type { ObjectDefinition } from "../../api/types";
import { ProblemMessage } from "../../components/ProblemMessage";
import { useDocumentTitle } from "../../components/useDocumentTitle";
import { useLanguage } from "../../components/useLanguage";
import { swatchOf } from "../../graph/colors";
import { NO_FILTERS } from "../../graph/filters";
import { toFlow } from "../../graph/flow";
import { edgeRelationLabel, recordName, typeLabel as objectTypeLabel } from "../../graph/labels";
import { fromSubgraph, mergeNeighbours, mergePath, type DrawnNode } from "../../graph/model";
import { NO_HIGHLIGHT, pathHighlight } from "../../graph/path";
import "../../styles/graph.css";
import { FilterPanel } from "./FilterPanel";
import { GraphCanvas } from "./GraphCanvas";
import { GraphTables } from "./GraphTables";
import { GraphTabs } from "./GraphTabs";
import { PathPanel, type PathResult } from "./PathPanel";
import { RecordPicker } from "./RecordPicker";

interface Expansion {
  key: string;
  nodeId: string;
  answer: Neighbours;
}

/**
 * /graph/:recordId? — a record's neighbourhood (GET …/subgraph) drawn with @xyflow/react or
 * listed as tables; records expand on click (GET …/neighbours, merged without duplicates);
 * a shortest path to a second record is highlighted (GET /graph/path).
 */
export default function GraphExplorerPage() {
  const { t } = useTranslation();
  const language = useLanguage();
  const navigate = useNavigate();
  const { recordId = null } = useParams();
  const calls = useGraphCalls();
  const objects = useObjects();
  const [depth, setDepth] = useState(1);
  const [filters, setFilters] = useState<GraphFilters>(NO_FILTERS);
  const [view, setView] = useState<"graph" | "list">("graph");
  const [expansions, setExpansions] = useState<Expansion[]>([]);
  const [pending, setPending] = useState<ReadonlySet<string>>(new Set());
  const [expandError, setExpandError] = useState<{ key: string; title: string; error: unknown } | null>(null);
  const [path, setPath] = useState<(PathResult & { key: string }) | null>(null);
  const subgraph = useSubgraph(recordId, depth, filters);
  // What was drawn for another record, depth or filters is dropped: one key per drawing.
  const key = JSON.stringify([recordId, depth, filters]);

  const byName = useMemo(
    () => new Map<string, ObjectDefinition>((objects.data ?? []).map((o) => [o.name, o])),
    [objects.data],
  );
  const typeLabel = (object: string) => objectTypeLabel(object, byName, language);
  const title = (node: Pick<DrawnNode, "record" | "object">) => {
    const name = recordName(node.record, byName.get(node.object));
    if (name.kind === "title") return name.text;
    if (name.kind === "withheld") return t("graph.explorer.titleWithheld", { type: typeLabel(node.object) });
    return t("graph.explorer.untitled", { type: typeLabel(node.object), id: name.shortId });
  };
  const relationName = (edge: GraphEdge) => edgeRelationLabel(edge, byName, language);

  const currentPath = path?.key === key ? path : null;
  const graph = useMemo(() => {
    if (!subgraph.data) return null;
    let drawn = fromSubgraph(subgraph.data, depth);
    for (const expansion of expansions) {
      if (expansion.key === key) drawn = mergeNeighbours(drawn, expansion.nodeId, expansion.answer);
    }
    return currentPath ? mergePath(drawn, currentPath.path) : drawn;
  }, [subgraph.data, depth, expansions, key, currentPath]);
  const highlight = currentPath ? pathHighlight(currentPath.path) : NO_HIGHLIGHT;
  const root = graph?.nodes.get(graph.root) ?? null;
  const rootTitle = root ? title(root) : null;
  useDocumentTitle(rootTitle ? `${t("graph.heading")}: ${rootTitle}` : t("graph.heading"));

  async function expand(nodeId: string) {
    const node = graph?.nodes.get(nodeId);
    if (!node || pending.has(nodeId)) return;
    const asked = key;
    setPending((p) => new Set(p).add(nodeId));
    setExpandError(null);
    try {
      const answer = await calls.neighbours(nodeId, filters);
      setExpansions((list) => [...list.filter((e) => e.key === asked), { key: asked, nodeId, answer }]);
    } catch (error) {
      setExpandError({ key: asked, title: title(node), error });
    } finally {
      setPending((p) => {
        const next = new Set(p);
        next.delete(nodeId);
        return next;
      });
    }
  }

  const flow = graph
    ? toFlow(graph, { title, typeLabel, relation: relationName }, highlight)
    : { nodes: [], edges: [] };
  const present = graph ? [...new Set([...graph.nodes.values()].map((n) => n.object))].sort() : [];

  const describePath = (found: GraphPath) => (
    <ol className="graph-path-steps">
      {found.nodes.map((record, index) => {
        const edge = index > 0 ? found.edges[index - 1] : undefined;
        return (
          <li key={record.id}>
            {edge && <span className="graph-path-relation">{relationName(edge)} · </span>}
            <span className={`graph-type graph-swatch-${swatchOf(record.object)}`}>{typeLabel(record.object)}</span>{" "}
            {title({ record, object: record.object })}
          </li>
        );
      })}
    </ol>
  );

  return (
    <>
      <h1>{t("graph.heading")}</h1>
      <GraphTabs />
      <div className="graph-toolbar">
        <RecordPicker
          key={`${recordId ?? ""}|${rootTitle ?? ""}`}
          label={t("graph.explorer.start")}
          hint={t("graph.explorer.startHint")}
          value={root && rootTitle ? { id: root.id, object: root.object, title: rootTitle } : null}
          onPick={(picked) => void navigate(`/graph/${picked.id}`)}
        />
      </div>
      {!recordId && <p>{t("graph.explorer.choose")}</p>}
      {recordId && (
        <section aria-label={t("graph.explorer.settings")} className="graph-settings">
          <FilterPanel
            objects={objects.data ?? []}
            depth={depth}
            filters={filters}
            onDepth={setDepth}
            onFilters={setFilters}
          />
          <div className="graph-view-switch" role="group" aria-label={t("graph.explorer.view")}>
            <button
              type="button"
              className="button button-quiet"
              aria-pressed={view === "graph"}
              onClick={() => setView("graph")}
            >
              {t("graph.explorer.graphView")}
            </button>
            <button
              type="button"
              className="button button-quiet"
              aria-pressed={view === "list"}
              onClick={() => setView("list")}
            >
              {t("graph.explorer.listView")}
            </button>
          </div>
        </section>
      )}
      {recordId && subgraph.isPending && <p role="status">{t("common.loading")}</p>}
      {subgraph.isError && <ProblemMessage error={subgraph.error} />}
      {expandError?.key === key && (
        <div>
          <p>{t("graph.explorer.expandFailed", { title: expandError.title })}</p>
          <ProblemMessage error={expandError.error} />
        </div>
      )}
      {graph && (
        <>
          <p className="hint" role="status">
            {t("graph.explorer.summary", { nodes: graph.nodes.size, edges: graph.edges.size })}
          </p>
          {graph.truncated && <p className="notice">{t("graph.explorer.truncated")}</p>}
          {view === "graph" ? (
            <>
              <p className="hint">{t("graph.explorer.hint")}</p>
              <ul className="graph-legend" aria-label={t("graph.explorer.legend")}>
                {present.map((object) => (
                  <li key={object}>
                    <span className={`graph-type graph-swatch-${swatchOf(object)}`}>{typeLabel(object)}</span>
                  </li>
                ))}
              </ul>
              <GraphCanvas
                nodes={flow.nodes}
                edges={flow.edges}
                label={t("graph.explorer.canvas", { title: rootTitle ?? "" })}
                onExpand={(id) => void expand(id)}
                pending={pending}
              />
            </>
          ) : (
            <GraphTables
              graph={graph}
              highlight={highlight}
              title={title}
              typeLabel={typeLabel}
              relationName={relationName}
              onExpand={(id) => void expand(id)}
              pending={pending}
            />
          )}
          {root && (
            <PathPanel
              key={key}
              from={{ id: root.id, title: rootTitle ?? root.id }}
              filters={filters}
              result={currentPath}
              onResult={(result) => setPath(result ? { ...result, key } : null)}
              describe={describePath}
            />
          )}
        </>
      )}
    </>
  );
}
