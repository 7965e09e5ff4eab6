import { useTranslation } from "react-i18next";
import { useDocumentTitle } from "../../components/useDocumentTitle";

/** Placeholder: replaced by the governance area's page. */
export default function GovernancePage() {
  const { t } = useTranslation();
  useDocumentTitle(t("governance.heading"));
  return <h1>{t("governance.heading")}</h1>;
}
