import { useTranslation } from "react-i18next";
import { useDocumentTitle } from "../../components/useDocumentTitle";

/** Placeholder: replaced by the agents area's page. */
export default function TaskInboxPage() {
  const { t } = useTranslation();
  useDocumentTitle(t("agents.heading"));
  return <h1>{t("agents.heading")}</h1>;
}
