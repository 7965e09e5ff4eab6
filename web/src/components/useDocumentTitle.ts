import { useEffect } from "react";
import { useTranslation } from "react-i18next";

/** Every page has its own <title>: "<page> — Kindred", in the UI language. */
export function useDocumentTitle(page: string | null): void {
  const { t } = useTranslation();
  useEffect(() => {
    document.title = page ? t("app.title", { page }) : t("app.name");
  }, [page, t]);
}
