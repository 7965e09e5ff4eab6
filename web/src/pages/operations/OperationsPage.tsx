import { useTranslation } from "react-i18next";
import { useDocumentTitle } from "../../components/useDocumentTitle";

/** Placeholder: replaced by the operations area's page. */
export default function OperationsPage() {
  const { t } = useTranslation();
  useDocumentTitle(t("operations.heading"));
  return <h1>{t("operations.heading")}</h1>;
}
