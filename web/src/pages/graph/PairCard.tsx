import { useState } from "react";
import { useTranslation } from "react-i18next";
import type { DuplicatePair, MatchFeature, MergeRequest } from "../../api/graph";
import type { ObjectDefinition, ObjectPermission } from "../../api/types";
import { FieldValue } from "../../components/FieldValue";
import { ProblemMessage } from "../../components/ProblemMessage";
import { useLanguage } from "../../components/useLanguage";
import { WithheldValue } from "../../components/WithheldValue";
import { compareRecords, effectOf, explanationOf, isKnownFeature, mergeRequest } from "../../graph/resolution";
import { fieldLabel, type Cell } from "../../records/fields";
import { ConfirmMergeDialog } from "./ConfirmMergeDialog";

export function percent(value: number, language: string): string {
  return new Intl.NumberFormat(language, { style: "percent", maximumFractionDigits: 1 }).format(value);
}

function FeatureRow({ feature }: { feature: MatchFeature }) {
  const { t } = useTranslation();
  const language = useLanguage();
  const name = isKnownFeature(feature.feature) ? t(`graph.merge.feature.${feature.feature}`) : feature.feature;
  const effect = effectOf(feature);
  const similarity =
    feature.similarity === null ? t("graph.merge.notCompared") : percent(feature.similarity, language);
  // The server explains in English; in Chinese the sentence is made from the same facts.
  const explanation =
    language === "en"
      ? feature.explanation
      : t(`graph.merge.explain.${explanationOf(feature)}`, { feature: name, similarity });
  const signed = `${feature.contribution > 0 ? "+" : ""}${new Intl.NumberFormat(language).format(feature.contribution)}`;
  return (
    <tr>
      <th scope="row">{name}</th>
      <td>{similarity}</td>
      <td className={`merge-effect-${effect}`}>
        {t(`graph.merge.effect.${effect}`)} ({signed})
      </td>
      <td>{explanation}</td>
    </tr>
  );
}

function CellView({ cell, field }: { cell: Cell; field: ObjectDefinition["fields"][number] }) {
  return cell.kind === "withheld" ? (
    <WithheldValue withheld={cell.withheld} />
  ) : (
    <FieldValue field={field} value={cell.value} />
  );
}

/**
 * One candidate pair: score, the explained match features, both records' values side by
 * side and — for users who may merge — the record that stays, per-field winners and Merge.
 */
export function PairCard({
  pair,
  object,
  permission,
  names,
  canMerge,
  busy,
  error,
  onMerge,
}: {
  pair: DuplicatePair;
  object: ObjectDefinition;
  permission: ObjectPermission | null;
  names: [string, string];
  canMerge: boolean;
  busy: boolean;
  error: unknown;
  onMerge: (request: MergeRequest) => void;
}) {
  const { t } = useTranslation();
  const language = useLanguage();
  const [first, second] = pair.records;
  const [survivor, setSurvivor] = useState<0 | 1>(0);
  const [winners, setWinners] = useState<ReadonlyMap<string, 0 | 1>>(new Map());
  const [confirming, setConfirming] = useState(false);
  if (!first || !second) return null;
  const rows = compareRecords(object, permission, [first, second]);
  const other = survivor === 0 ? 1 : 0;
  const taken = new Set(
    [...winners].filter(([, winner]) => winner !== survivor).map(([name]) => name),
  );
  const idBase = `pair-${first.id}-${second.id}`;
  const recordHeader = (index: 0 | 1) =>
    t("graph.merge.recordNamed", {
      record: index === 0 ? t("graph.merge.recordA") : t("graph.merge.recordB"),
      name: names[index],
    });

  return (
    <article className="merge-pair" aria-labelledby={`${idBase}-title`}>
      <h3 id={`${idBase}-title`}>{t("graph.merge.pair", { a: names[0], b: names[1] })}</h3>
      <p className="merge-score">
        <strong>{t("graph.merge.score", { score: percent(pair.score, language) })}</strong>
        <span className="merge-decision">{t(`graph.merge.decision.${pair.decision}`)}</span>
      </p>
      <div className="merge-columns">
        <section aria-labelledby={`${idBase}-features`}>
          <h4 id={`${idBase}-features`}>{t("graph.merge.features")}</h4>
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">{t("graph.merge.colFeature")}</th>
                  <th scope="col">{t("graph.merge.colSimilarity")}</th>
                  <th scope="col">{t("graph.merge.colEffect")}</th>
                  <th scope="col">{t("graph.merge.colExplanation")}</th>
                </tr>
              </thead>
              <tbody>
                {pair.features.map((feature) => (
                  <FeatureRow key={feature.feature} feature={feature} />
                ))}
              </tbody>
            </table>
          </div>
        </section>
        <section aria-labelledby={`${idBase}-values`}>
          <h4 id={`${idBase}-values`}>{t("graph.merge.values")}</h4>
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">{t("graph.merge.colField")}</th>
                  <th scope="col">{recordHeader(0)}</th>
                  <th scope="col">{recordHeader(1)}</th>
                  <th scope="col">{t("graph.merge.colCompare")}</th>
                  {canMerge && <th scope="col">{t("graph.merge.colKeep")}</th>}
                </tr>
              </thead>
              <tbody>
                {rows.map((row) => {
                  const label = fieldLabel(row.field, language);
                  const winner = winners.get(row.name) ?? survivor;
                  return (
                    <tr key={row.name}>
                      <th scope="row">{label}</th>
                      <td>
                        <CellView cell={row.cells[0]} field={row.field} />
                      </td>
                      <td>
                        <CellView cell={row.cells[1]} field={row.field} />
                      </td>
                      <td className={row.comparable && !row.same ? "merge-differs" : undefined}>
                        {!row.comparable
                          ? t("graph.merge.notCompared")
                          : row.same
                            ? t("graph.merge.same")
                            : t("graph.merge.differs")}
                      </td>
                      {canMerge && (
                        <td>
                          {row.choosable && (
                            <fieldset className="merge-choice">
                              <legend className="graph-sr-only">{t("graph.merge.keepValue", { field: label })}</legend>
                              {([0, 1] as const).map((index) => (
                                <label key={index} className="check">
                                  <input
                                    type="radio"
                                    name={`${idBase}-${row.name}`}
                                    checked={winner === index}
                                    onChange={() => setWinners(new Map(winners).set(row.name, index))}
                                  />
                                  {index === 0 ? t("graph.merge.recordA") : t("graph.merge.recordB")}
                                </label>
                              ))}
                            </fieldset>
                          )}
                        </td>
                      )}
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        </section>
      </div>
      {canMerge ? (
        <div className="merge-actions">
          <fieldset className="merge-choice">
            <legend>{t("graph.merge.survivor")}</legend>
            {([0, 1] as const).map((index) => (
              <label key={index} className="check">
                <input
                  type="radio"
                  name={`${idBase}-survivor`}
                  checked={survivor === index}
                  onChange={() => setSurvivor(index)}
                />
                {recordHeader(index)}
              </label>
            ))}
          </fieldset>
          <p className="hint">{t("graph.merge.fillNote")}</p>
          <button
            type="button"
            className="button button-primary"
            disabled={busy}
            onClick={() => setConfirming(true)}
          >
            {busy ? t("graph.merge.merging") : t("graph.merge.mergeNamed", { duplicate: names[other], survivor: names[survivor] })}
          </button>
        </div>
      ) : (
        <p className="hint">{t("graph.merge.noRight")}</p>
      )}
      {error !== null && error !== undefined && <ProblemMessage error={error} />}
      {confirming && (
        <ConfirmMergeDialog
          survivor={names[survivor]}
          duplicate={names[other]}
          onCancel={() => setConfirming(false)}
          onConfirm={() => {
            setConfirming(false);
            onMerge(mergeRequest(pair, object.name, survivor, taken, rows));
          }}
        />
      )}
    </article>
  );
}
