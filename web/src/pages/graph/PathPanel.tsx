import { useState, type ReactNode } from "react";
import { useTranslation } from "react-i18next";
import { useGraphCalls, type GraphFilters, type GraphPath } from "../../api/graph";
import { ProblemMessage } from "../../components/ProblemMessage";
import { PATH_HOPS } from "../../graph/filters";
import { RecordPicker, type PickedRecord } from "./RecordPicker";

export interface PathResult {
  path: GraphPath;
  target: PickedRecord;
  hops: number;
}

/** Shortest path from the start record to a second one (GET /api/v1/graph/path). */
export function PathPanel({
  from,
  filters,
  result,
  onResult,
  describe,
}: {
  from: { id: string; title: string };
  filters: GraphFilters;
  result: PathResult | null;
  onResult: (result: PathResult | null) => void;
  describe: (path: GraphPath) => ReactNode;
}) {
  const { t } = useTranslation();
  const calls = useGraphCalls();
  const [target, setTarget] = useState<PickedRecord | null>(result?.target ?? null);
  const [hops, setHops] = useState(result?.hops ?? 4);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  async function find() {
    if (!target) return;
    setBusy(true);
    setError(null);
    try {
      const path = await calls.path(from.id, target.id, hops, filters);
      onResult({ path, target, hops });
    } catch (problem) {
      onResult(null);
      setError(problem);
    } finally {
      setBusy(false);
    }
  }

  return (
    <section className="graph-path" aria-labelledby="graph-path-heading">
      <h2 id="graph-path-heading">{t("graph.path.heading")}</h2>
      <form
        className="graph-path-form"
        onSubmit={(event) => {
          event.preventDefault();
          void find();
        }}
      >
        <RecordPicker label={t("graph.path.to")} value={target} onPick={setTarget} />
        <div className="field field-inline">
          <label htmlFor="graph-path-hops">{t("graph.path.maxHops")}</label>
          <select id="graph-path-hops" value={hops} onChange={(event) => setHops(Number(event.target.value))}>
            {PATH_HOPS.map((n) => (
              <option key={n} value={n}>
                {n}
              </option>
            ))}
          </select>
        </div>
        <button type="submit" className="button button-primary" disabled={busy || !target}>
          {busy ? t("graph.path.finding") : t("graph.path.find")}
        </button>
        {result && (
          <button type="button" className="button button-quiet" onClick={() => onResult(null)}>
            {t("graph.path.clear")}
          </button>
        )}
      </form>
      {!target && <p className="hint">{t("graph.path.chooseTarget")}</p>}
      {error !== null && <ProblemMessage error={error} />}
      <div role="status" className="graph-path-result">
        {result?.path.found === true && (
          <>
            <p>
              {t("graph.path.found", { count: result.path.length ?? result.path.edges.length, from: from.title, to: result.target.title })}
            </p>
            {describe(result.path)}
          </>
        )}
        {result?.path.found === false && (
          <p className="notice">
            {t("graph.path.none", { count: result.hops, from: from.title, to: result.target.title })}
          </p>
        )}
      </div>
    </section>
  );
}
