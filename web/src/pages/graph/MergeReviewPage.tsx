import { useState } from "react";
import { useTranslation } from "react-i18next";
import {
  RESOLVABLE_OBJECTS,
  useDuplicates,
  useMergeMutation,
  useMerges,
  useUndoMutation,
  type MergeRequest,
  type MergeResult,
  type MergeSummary,
  type UnmergeResult,
} from "../../api/graph";
import { useObjects } from "../../api/queries";
import { ProblemMessage } from "../../components/ProblemMessage";
import { useDocumentTitle } from "../../components/useDocumentTitle";
import { useLanguage } from "../../components/useLanguage";
import { recordName, shortId } from "../../graph/labels";
import { mayMerge, mayUndo, pairKey } from "../../graph/resolution";
import { canRead } from "../../nav/navigation";
import { objectLabel, permissionFor } from "../../records/fields";
import type { ObjectDefinition, RecordData } from "../../api/types";
import { useMe } from "../../session/SessionContext";
import "../../styles/graph.css";
import { GraphTabs } from "./GraphTabs";
import { MergeHistory } from "./MergeHistory";
import { PairCard } from "./PairCard";

type Outcome =
  | { kind: "merged"; result: MergeResult }
  | { kind: "undone"; result: UnmergeResult };

/**
 * /resolution — identity-resolution review: likely duplicate pairs with the explained match
 * features, both records side by side, merge (survivor and per-field winners, confirmed),
 * undo, and the merge history. Merge controls only for users the API lets merge.
 */
export default function MergeReviewPage() {
  const { t } = useTranslation();
  const language = useLanguage();
  const me = useMe();
  const objects = useObjects();
  const choices = RESOLVABLE_OBJECTS.filter((name) => canRead(me, name));
  const [objectName, setObjectName] = useState<string>(choices[0] ?? "contact");
  const object = objects.data?.find((o) => o.name === objectName) ?? null;
  const duplicates = useDuplicates(objectName);
  const merges = useMerges(objectName);
  const merge = useMergeMutation();
  const undo = useUndoMutation();
  const [names] = useState(() => new Map<string, string>());
  const [outcome, setOutcome] = useState<Outcome | null>(null);
  const [mergeError, setMergeError] = useState<{ pair: string; error: unknown } | null>(null);
  const [undoError, setUndoError] = useState<{ id: string; error: unknown } | null>(null);
  useDocumentTitle(t("graph.merge.heading"));
  const canMerge = mayMerge(me, objectName);
  const canUndo = mayUndo(me, objectName);

  const nameOf = (record: RecordData, definition: ObjectDefinition | null) => {
    const name = recordName(record, definition ?? undefined);
    const text =
      name.kind === "title"
        ? name.text
        : name.kind === "withheld"
          ? t("graph.explorer.titleWithheld", { type: definition ? objectLabel(definition, language) : record.object })
          : `#${name.shortId}`;
    names.set(record.id, text);
    return text;
  };
  const known = (id: string) => names.get(id) ?? `#${shortId(id)}`;

  function runMerge(key: string, request: MergeRequest) {
    setMergeError(null);
    setOutcome(null);
    merge.mutate(request, {
      onSuccess: (result) => setOutcome({ kind: "merged", result }),
      onError: (error) => setMergeError({ pair: key, error }),
    });
  }

  function runUndo(merged: Pick<MergeSummary, "id">) {
    setUndoError(null);
    undo.mutate(merged.id, {
      onSuccess: (result) => setOutcome({ kind: "undone", result }),
      onError: (error) => setUndoError({ id: merged.id, error }),
    });
  }

  return (
    <>
      <h1>{t("graph.merge.heading")}</h1>
      <GraphTabs />
      <div className="toolbar">
        <div className="field field-inline">
          <label htmlFor="merge-object">{t("graph.merge.object")}</label>
          <select
            id="merge-object"
            value={objectName}
            onChange={(event) => {
              setObjectName(event.target.value);
              setOutcome(null);
              setMergeError(null);
              setUndoError(null);
            }}
          >
            {choices.map((name) => {
              const definition = objects.data?.find((o) => o.name === name);
              return (
                <option key={name} value={name}>
                  {definition ? objectLabel(definition, language, true) : name}
                </option>
              );
            })}
          </select>
        </div>
      </div>
      <div role="status" className="merge-outcome">
        {outcome?.kind === "merged" && (
          <div className="notice">
            <p>
              {t("graph.merge.merged", {
                duplicate: known(outcome.result.duplicate),
                survivor: known(outcome.result.survivor),
              })}
            </p>
            {outcome.result.skipped_fields.length > 0 && (
              <p>{t("graph.merge.skipped", { fields: outcome.result.skipped_fields.join(", ") })}</p>
            )}
            {canUndo && (
              <button
                type="button"
                className="button"
                disabled={undo.isPending}
                onClick={() => runUndo(outcome.result)}
              >
                {undo.isPending ? t("graph.merge.undoing") : t("graph.merge.undo")}
              </button>
            )}
          </div>
        )}
        {outcome?.kind === "undone" && (
          <p className="notice">{t("graph.merge.undone", { duplicate: known(outcome.result.duplicate) })}</p>
        )}
      </div>
      {outcome?.kind === "merged" && undoError?.id === outcome.result.id && <ProblemMessage error={undoError.error} />}

      <section aria-labelledby="merge-pairs-heading">
        <h2 id="merge-pairs-heading">{t("graph.merge.pairs")}</h2>
        {(duplicates.isPending || objects.isPending) && <p role="status">{t("common.loading")}</p>}
        {duplicates.isError && <ProblemMessage error={duplicates.error} />}
        {objects.isError && <ProblemMessage error={objects.error} />}
        {duplicates.data?.truncated && <p className="notice">{t("graph.merge.truncated")}</p>}
        {duplicates.data && object && duplicates.data.data.length === 0 && <p>{t("graph.merge.noPairs")}</p>}
        {duplicates.data && object && duplicates.data.data.length > 0 && (
          <ul className="merge-pairs">
            {duplicates.data.data.map((pair) => {
              const key = pairKey(pair);
              const [a, b] = pair.records;
              if (!a || !b) return null;
              return (
                <li key={key}>
                  <PairCard
                    pair={pair}
                    object={object}
                    permission={permissionFor(me, objectName)}
                    names={[nameOf(a, object), nameOf(b, object)]}
                    canMerge={canMerge}
                    busy={merge.isPending && [a.id, b.id].includes(merge.variables.survivor)}
                    error={mergeError?.pair === key ? mergeError.error : null}
                    onMerge={(request) => runMerge(key, request)}
                  />
                </li>
              );
            })}
          </ul>
        )}
      </section>

      <section className="merge-history" aria-labelledby="merge-history-heading">
        <h2 id="merge-history-heading">{t("graph.merge.history")}</h2>
        {merges.isPending && <p role="status">{t("common.loading")}</p>}
        {merges.isError && <ProblemMessage error={merges.error} />}
        {merges.data && (
          <MergeHistory
            merges={merges.data.data}
            name={known}
            canUndo={canUndo}
            undoing={undo.isPending ? undo.variables : null}
            undoError={undoError}
            onUndo={runUndo}
          />
        )}
      </section>
    </>
  );
}
