import { useTranslation } from "react-i18next";
import { useDocumentTitle } from "../../components/useDocumentTitle";

/** Placeholder: replaced by the design area's page. */
export default function ObjectDesignerPage() {
  const { t } = useTranslation();
  useDocumentTitle(t("design.heading"));
  return <h1>{t("design.heading")}</h1>;
}
