import { useTranslation } from "react-i18next";
import { useDocumentTitle } from "../../components/useDocumentTitle";

export default function ScenariosPage() {
  const { t } = useTranslation();
  useDocumentTitle(t("scenarios.heading"));
  return (
    <>
      <h1>{t("scenarios.heading")}</h1>
      <p>{t("scenarios.coming")}</p>
    </>
  );
}
