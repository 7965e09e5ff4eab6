import { useTranslation } from "react-i18next";
import { setLanguage } from "../i18n";
import { useLanguage } from "./useLanguage";

/** Named in the language it switches to: "中文" in English, "English" in Chinese. */
export function LanguageSwitch() {
  const { t } = useTranslation();
  const language = useLanguage();
  const target = language === "en" ? "zh-CN" : "en";
  return (
    <button
      type="button"
      className="button button-quiet"
      lang={target}
      title={t("language.switchHint")}
      onClick={() => void setLanguage(target)}
    >
      {t("language.switch")}
    </button>
  );
}
