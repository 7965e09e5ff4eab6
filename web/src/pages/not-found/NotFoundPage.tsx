import { useTranslation } from "react-i18next";
import { Link } from "react-router";
import { useDocumentTitle } from "../../components/useDocumentTitle";

export default function NotFoundPage() {
  const { t } = useTranslation();
  useDocumentTitle(t("notFound.heading"));
  return (
    <>
      <h1>{t("notFound.heading")}</h1>
      <p>{t("notFound.body")}</p>
      <p>
        <Link to="/records">{t("notFound.home")}</Link>
      </p>
    </>
  );
}
