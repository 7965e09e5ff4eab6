import { useTranslation } from "react-i18next";
import { useDocumentTitle } from "../../components/useDocumentTitle";

/** Placeholder: replaced by the graph area's page. */
export default function GraphExplorerPage() {
  const { t } = useTranslation();
  useDocumentTitle(t("graph.heading"));
  return <h1>{t("graph.heading")}</h1>;
}
