import { useTranslation } from "react-i18next";
import { Link } from "react-router";
import type { GraphEdge } from "../../api/graph";
import { swatchOf } from "../../graph/colors";
import { edgeKey, type DrawnGraph, type DrawnNode } from "../../graph/model";
import type { Highlight } from "../../graph/path";

/**
 * The drawn graph as two tables — its records and its relations — for screen readers and
 * keyboards (the canvas is pointer-first): the same nodes, edges, actions and path marks.
 */
export function GraphTables({
  graph,
  highlight,
  title,
  typeLabel,
  relationName,
  onExpand,
  pending,
}: {
  graph: DrawnGraph;
  highlight: Highlight;
  title: (node: DrawnNode) => string;
  typeLabel: (object: string) => string;
  relationName: (edge: GraphEdge) => string;
  onExpand: (id: string) => void;
  pending: ReadonlySet<string>;
}) {
  const { t } = useTranslation();
  const nodes = [...graph.nodes.values()].sort((a, b) => a.depth - b.depth);
  const edges = [...graph.edges.values()];
  const name = (id: string) => {
    const node = graph.nodes.get(id);
    return node ? title(node) : id;
  };
  return (
    <div className="graph-tables">
      <section aria-labelledby="graph-nodes-heading">
        <h2 id="graph-nodes-heading">{t("graph.explorer.nodesTable", { count: nodes.length })}</h2>
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">{t("graph.explorer.colRecord")}</th>
                <th scope="col">{t("graph.explorer.colType")}</th>
                <th scope="col">{t("graph.explorer.colHops")}</th>
                <th scope="col">{t("graph.explorer.colStatus")}</th>
                <th scope="col">{t("graph.explorer.colActions")}</th>
              </tr>
            </thead>
            <tbody>
              {nodes.map((node) => {
                const label = title(node);
                const withheld = node.record.meta?.withheld?.length ?? 0;
                const status: string[] = [];
                if (node.id === graph.root) status.push(t("graph.explorer.startBadge"));
                if (highlight.nodes.has(node.id)) status.push(t("graph.explorer.onPath"));
                if (graph.expanded.has(node.id)) status.push(t("graph.explorer.expanded"));
                if (withheld > 0) status.push(t("graph.explorer.withheldLong", { count: withheld }));
                return (
                  <tr key={node.id} className={highlight.nodes.has(node.id) ? "on-path" : undefined}>
                    <th scope="row">{label}</th>
                    <td>
                      <span className={`graph-type graph-swatch-${swatchOf(node.object)}`}>
                        {typeLabel(node.object)}
                      </span>
                    </td>
                    <td>{node.depth}</td>
                    <td>{status.join(" · ")}</td>
                    <td className="graph-row-actions">
                      {!graph.expanded.has(node.id) && (
                        <button
                          type="button"
                          className="button button-quiet graph-small"
                          disabled={pending.has(node.id)}
                          aria-label={t("graph.explorer.expandNamed", { title: label })}
                          onClick={() => onExpand(node.id)}
                        >
                          {pending.has(node.id) ? t("graph.explorer.expanding") : t("graph.explorer.expand")}
                        </button>
                      )}
                      <Link
                        to={`/records/${node.object}/${node.id}`}
                        aria-label={t("graph.explorer.openNamed", { title: label })}
                      >
                        {t("graph.explorer.open")}
                      </Link>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      </section>
      <section aria-labelledby="graph-edges-heading">
        <h2 id="graph-edges-heading">{t("graph.explorer.edgesTable", { count: edges.length })}</h2>
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">{t("graph.explorer.colFrom")}</th>
                <th scope="col">{t("graph.explorer.colRelation")}</th>
                <th scope="col">{t("graph.explorer.colTo")}</th>
                <th scope="col">{t("graph.explorer.colStatus")}</th>
              </tr>
            </thead>
            <tbody>
              {edges.map((edge) => {
                const onPath = highlight.edges.has(edgeKey(edge));
                return (
                  <tr key={edgeKey(edge)} className={onPath ? "on-path" : undefined}>
                    <td>{name(edge.source)}</td>
                    <td>
                      <span title={edge.relation}>{relationName(edge)}</span>
                    </td>
                    <td>{name(edge.target)}</td>
                    <td>{onPath ? t("graph.explorer.onPath") : ""}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      </section>
    </div>
  );
}
