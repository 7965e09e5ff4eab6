import { useTranslation } from "react-i18next";
import { Link } from "react-router";
import type { ObjectDefinition } from "../../api/types";
import { useTimeline, type TimelineItem } from "../../api/workspace";
import { ProblemMessage } from "../../components/ProblemMessage";
import { useLanguage } from "../../components/useLanguage";
import { fieldLabel, withheldReasonKey } from "../../records/fields";
import { formatTimestamp, formatValue } from "../../records/format";
import { asText } from "../../records/text";

const KINDS = ["change", "event", "scenario_run", "agent_run", "consent", "tag", "notification"] as const;
const ACTIONS = ["create", "update", "delete"] as const;

/** The record's changes, events, runs and consents, newest first (GET …/timeline). */
export function Timeline({ object, recordId }: { object: ObjectDefinition; recordId: string }) {
  const { t } = useTranslation();
  const timeline = useTimeline(object.name, recordId);
  return (
    <section aria-labelledby="record-timeline" className="timeline">
      <h2 id="record-timeline">{t("workspace.timeline.heading")}</h2>
      {timeline.isPending && <p role="status">{t("common.loading")}</p>}
      {timeline.isError && <ProblemMessage error={timeline.error} />}
      {timeline.data && (
        <>
          {timeline.data.data.length === 0 ? (
            <p>{t("workspace.timeline.empty")}</p>
          ) : (
            <ol className="timeline-list">
              {timeline.data.data.map((item) => (
                <Entry key={`${item.kind}-${item.id}`} object={object} item={item} />
              ))}
            </ol>
          )}
          {timeline.data.omitted.map((o) => (
            <p key={o.source} className="muted">
              {t("workspace.timeline.omitted", {
                source: t(`workspace.timeline.sources.${o.source}`),
                reason: t(`workspace.timeline.omittedReasons.${o.source}`),
              })}
            </p>
          ))}
        </>
      )}
    </section>
  );
}

function Entry({ object, item }: { object: ObjectDefinition; item: TimelineItem }) {
  const { t } = useTranslation();
  const language = useLanguage();
  const kind = (KINDS as readonly string[]).includes(item.kind) ? item.kind : "event";
  const words = { yes: t("common.yes"), no: t("common.no") };
  let title = item.title;
  if (item.kind === "change" && (ACTIONS as readonly string[]).includes(item.title)) {
    title = t(`workspace.timeline.actions.${item.title as (typeof ACTIONS)[number]}`);
  }
  const link =
    item.kind === "scenario_run"
      ? `/operations/runs/${item.id}`
      : item.kind === "agent_run"
        ? `/agent-runs/${item.id}`
        : null;
  return (
    <li className={`timeline-entry timeline-${kind}`}>
      <p className="timeline-head">
        <span className="timeline-kind">{t(`workspace.timeline.kinds.${kind}`)}</span>{" "}
        <strong>{title}</strong>{" "}
        {item.actor && (
          <span className="muted">{t("workspace.timeline.by", { actor: item.actor })}</span>
        )}{" "}
        {item.status && (
          <span className="muted">{t("workspace.timeline.status", { status: item.status })}</span>
        )}{" "}
        <time dateTime={item.at} className="muted">
          {formatTimestamp(item.at, language)}
        </time>
      </p>
      {item.kind === "consent" && item.detail && (
        <p className="muted">{t("workspace.timeline.dimensions", { dimensions: item.detail })}</p>
      )}
      {item.kind !== "consent" && item.detail && <p className="field-error">{item.detail}</p>}
      {link && (
        <p>
          <Link to={link}>{t("workspace.timeline.openRun")}</Link>
        </p>
      )}
      {item.changes.length > 0 && (
        <ul className="timeline-changes">
          {item.changes.map((change) => {
            const field = object.fields.find((f) => f.name === change.field);
            const name = field ? fieldLabel(field, language) : change.field;
            if (change.withheld) {
              const reason =
                change.withheld === "sealed"
                  ? t("workspace.timeline.sealed")
                  : t(withheldReasonKey(change.withheld) as "withheld.reasons.other");
              return (
                <li key={change.field} className="withheld">
                  {t("workspace.timeline.withheld", { field: name, reason })}
                </li>
              );
            }
            const show = (value: unknown) =>
              field ? formatValue(field, value, language, words) : asText(value) || "—";
            return (
              <li key={change.field}>
                {t("workspace.timeline.change", {
                  field: name,
                  before: show(change.before),
                  after: show(change.after),
                })}
              </li>
            );
          })}
        </ul>
      )}
    </li>
  );
}
