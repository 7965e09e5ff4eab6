import { useTranslation } from "react-i18next";
import { Link } from "react-router";
import type { MergeSummary } from "../../api/graph";
import { ProblemMessage } from "../../components/ProblemMessage";
import { useLanguage } from "../../components/useLanguage";
import { formatTimestamp } from "../../records/format";
import { percent } from "./PairCard";

/** The object's merges, newest first, each undoable while merged (for users who may). */
export function MergeHistory({
  merges,
  name,
  canUndo,
  undoing,
  undoError,
  onUndo,
}: {
  merges: readonly MergeSummary[];
  name: (id: string) => string;
  canUndo: boolean;
  undoing: string | null;
  undoError: { id: string; error: unknown } | null;
  onUndo: (merge: MergeSummary) => void;
}) {
  const { t } = useTranslation();
  const language = useLanguage();
  if (merges.length === 0) return <p>{t("graph.merge.noHistory")}</p>;
  return (
    <>
      <div className="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">{t("graph.merge.colWhen")}</th>
              <th scope="col">{t("graph.merge.colSurvivor")}</th>
              <th scope="col">{t("graph.merge.colDuplicate")}</th>
              <th scope="col">{t("graph.merge.colScore")}</th>
              <th scope="col">{t("graph.merge.colState")}</th>
              {canUndo && <th scope="col">{t("graph.merge.colUndo")}</th>}
            </tr>
          </thead>
          <tbody>
            {merges.map((merge) => (
              <tr key={merge.id}>
                <td>{formatTimestamp(merge.merged_at, language)}</td>
                <td>
                  <Link to={`/records/${merge.object}/${merge.survivor}`}>{name(merge.survivor)}</Link>
                </td>
                <td>
                  {merge.state === "undone" ? (
                    <Link to={`/records/${merge.object}/${merge.duplicate}`}>{name(merge.duplicate)}</Link>
                  ) : (
                    name(merge.duplicate)
                  )}
                </td>
                <td>{merge.score === null ? "—" : percent(merge.score, language)}</td>
                <td>{t(`graph.merge.state.${merge.state}`)}</td>
                {canUndo && (
                  <td>
                    {merge.state === "merged" && (
                      <button
                        type="button"
                        className="button button-quiet"
                        disabled={undoing === merge.id}
                        aria-label={t("graph.merge.undoNamed", { duplicate: name(merge.duplicate) })}
                        onClick={() => onUndo(merge)}
                      >
                        {undoing === merge.id ? t("graph.merge.undoing") : t("graph.merge.undo")}
                      </button>
                    )}
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {undoError && merges.some((m) => m.id === undoError.id) && <ProblemMessage error={undoError.error} />}
    </>
  );
}
