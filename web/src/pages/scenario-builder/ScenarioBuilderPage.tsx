import { useTranslation } from "react-i18next";
import { useDocumentTitle } from "../../components/useDocumentTitle";

/** Placeholder: replaced by the builder area's page. */
export default function ScenarioBuilderPage() {
  const { t } = useTranslation();
  useDocumentTitle(t("builder.heading"));
  return <h1>{t("builder.heading")}</h1>;
}
