import { useTranslation } from "react-i18next";
import { Link } from "react-router";
import { useObjects } from "../../api/queries";
import type { FieldDefinition, ObjectDefinition, RecordData } from "../../api/types";
import { useRelated } from "../../api/workspace";
import { ProblemMessage } from "../../components/ProblemMessage";
import { RecordRef } from "../../components/RecordRef";
import { useLanguage } from "../../components/useLanguage";
import { canRead } from "../../nav/navigation";
import { fieldLabel, objectLabel, recordTitle } from "../../records/fields";
import { asText } from "../../records/text";
import { useMe } from "../../session/SessionContext";

interface Incoming {
  source: ObjectDefinition;
  field: FieldDefinition;
}

/** Other objects' to-one relations that point at `object` (its contacts, opportunities …). */
export function incomingRelations(objects: ObjectDefinition[], object: string): Incoming[] {
  const found: Incoming[] = [];
  for (const source of objects) {
    for (const field of source.fields) {
      if (field.type === "relation" && field.target === object && field.cardinality !== "many") {
        found.push({ source, field });
      }
    }
  }
  return found;
}

/** Relations both ways: what this record points at, and the records pointing at it. */
export function RelatedRecords({ object, record }: { object: ObjectDefinition; record: RecordData }) {
  const { t } = useTranslation();
  const language = useLanguage();
  const objects = useObjects();
  const me = useMe();
  const outgoing = object.fields.filter(
    (f) =>
      f.type === "relation" &&
      f.target &&
      typeof record[f.name] === "string" &&
      record[f.name] !== "" &&
      canRead(me, f.target),
  );
  const incoming = incomingRelations(objects.data ?? [], object.name).filter(({ source }) =>
    canRead(me, source.name),
  );
  if (outgoing.length === 0 && incoming.length === 0) return null;
  return (
    <section aria-labelledby="record-related" className="related">
      <h2 id="record-related">{t("workspace.related.heading")}</h2>
      {outgoing.length > 0 && (
        <dl className="fields">
          {outgoing.map((field) => (
            <div key={field.name} className="field-row">
              <dt>{fieldLabel(field, language)}</dt>
              <dd>
                <RecordRef object={field.target ?? ""} id={asText(record[field.name])} />
              </dd>
            </div>
          ))}
        </dl>
      )}
      {incoming.map(({ source, field }) => (
        <RelatedList
          key={`${source.name}.${field.name}`}
          source={source}
          field={field}
          target={object}
          id={record.id}
        />
      ))}
    </section>
  );
}

function RelatedList({
  source,
  field,
  target,
  id,
}: {
  source: ObjectDefinition;
  field: FieldDefinition;
  target: ObjectDefinition;
  id: string;
}) {
  const { t } = useTranslation();
  const language = useLanguage();
  const related = useRelated(source.name, field.name, id);
  const objects = objectLabel(source, language, true);
  const heading = t("workspace.related.from", { objects, field: fieldLabel(field, language) });
  if (related.isPending) return null;
  if (related.isError) {
    return (
      <div className="related-list">
        <h3>{heading}</h3>
        <ProblemMessage error={related.error} />
      </div>
    );
  }
  if (related.data.data.length === 0) return null;
  return (
    <div className="related-list">
      <h3>{heading}</h3>
      <ul>
        {related.data.data.map((r) => (
          <li key={r.id}>
            <Link to={`/records/${source.name}/${r.id}`}>
              {recordTitle(source, r) ?? t("records.untitled", { id: r.id.slice(-8) })}
            </Link>
          </li>
        ))}
      </ul>
      {related.data.next_cursor && (
        <p>
          <Link to={`/records/${source.name}?filter.${field.name}=${encodeURIComponent(id)}`}>
            {t("workspace.related.all", { objects, object: objectLabel(target, language) })}
          </Link>
        </p>
      )}
    </div>
  );
}
