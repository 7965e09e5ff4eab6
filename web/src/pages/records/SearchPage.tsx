import { useTranslation } from "react-i18next";
import { useDocumentTitle } from "../../components/useDocumentTitle";

/** Placeholder: replaced by the workspace area's page. */
export default function SearchPage() {
  const { t } = useTranslation();
  useDocumentTitle(t("workspace.heading"));
  return <h1>{t("workspace.heading")}</h1>;
}
