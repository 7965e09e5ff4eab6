import { useTranslation } from "react-i18next";
import { Navigate, useNavigate, useParams } from "react-router";
import { useObjects } from "../../api/queries";
import { ProblemMessage } from "../../components/ProblemMessage";
import { useDocumentTitle } from "../../components/useDocumentTitle";
import { useLanguage } from "../../components/useLanguage";
import { defaultObject } from "../../nav/navigation";
import { objectLabel, permissionFor } from "../../records/fields";
import { useMe } from "../../session/SessionContext";
import { Link } from "react-router";
import { groupingField } from "../../records/board";
import { RecordList } from "./RecordList";

/** /records/:object — pick an object, list its records. */
export default function RecordsPage() {
  const { t } = useTranslation();
  const language = useLanguage();
  const me = useMe();
  const navigate = useNavigate();
  const { object: objectName } = useParams();
  const objects = useObjects();
  const object = objects.data?.find((o) => o.name === objectName) ?? null;
  const heading = object ? objectLabel(object, language, true) : t("nav.records");
  useDocumentTitle(heading);

  if (!objectName) {
    const fallback = defaultObject(me);
    if (fallback) return <Navigate to={`/records/${fallback}`} replace />;
    return (
      <>
        <h1>{t("nav.records")}</h1>
        <p>{t("records.noObjects")}</p>
      </>
    );
  }

  return (
    <>
      <h1>{heading}</h1>
      <div className="toolbar">
        <div className="field field-inline">
          <label htmlFor="object-picker">{t("records.objectLabel")}</label>
          <select
            id="object-picker"
            value={objectName}
            onChange={(event) => void navigate(`/records/${event.target.value}`)}
          >
            {!object && <option value={objectName}>{objectName}</option>}
            {(objects.data ?? []).map((o) => (
              <option key={o.name} value={o.name}>
                {objectLabel(o, language, true)}
              </option>
            ))}
          </select>
        </div>
        {object && permissionFor(me, object.name)?.actions.includes("create") && (
          <Link className="button button-primary" to={`/records/${object.name}/new`}>
            {t("workspace.newRecord", { object: objectLabel(object, language) })}
          </Link>
        )}
        {object && groupingField(object, null) && (
          <Link className="button" to={`/board/${object.name}`}>
            {t("workspace.board")}
          </Link>
        )}
      </div>
      {objects.isPending && <p role="status">{t("common.loading")}</p>}
      {objects.isError && <ProblemMessage error={objects.error} />}
      {objects.isSuccess && !object && <p role="alert">{t("notFound.body")}</p>}
      {object && (
        <RecordList key={object.name} object={object} permission={permissionFor(me, object.name)} />
      )}
    </>
  );
}
