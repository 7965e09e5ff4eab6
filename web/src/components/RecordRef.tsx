import { useTranslation } from "react-i18next";
import { Link } from "react-router";
import { useObjects, useRecord } from "../api/queries";
import { recordTitle } from "../records/fields";

/** A link to a related record named by its title (its short id until the title is read). */
export function RecordRef({ object, id }: { object: string; id: string }) {
  const { t } = useTranslation();
  const objects = useObjects();
  const record = useRecord(object, id);
  const definition = objects.data?.find((o) => o.name === object);
  const title =
    definition && record.data ? recordTitle(definition, record.data.record) : null;
  return (
    <Link to={`/records/${object}/${id}`} title={id}>
      {title ?? (record.isError ? `#${id.slice(-8)}` : t("records.untitled", { id: id.slice(-8) }))}
    </Link>
  );
}
