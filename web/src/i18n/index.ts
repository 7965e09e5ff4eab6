/**
 * i18next with the two bundled catalogs (no loading at run time). The chosen language is
 * remembered in localStorage under `kindred.lang` (a preference, never a credential) and
 * mirrored on <html lang>.
 */
import i18next from "i18next";
import { initReactI18next } from "react-i18next";
import en from "./en";
import zhCN from "./zh-CN";

export const LANGUAGES = ["en", "zh-CN"] as const;
export type Language = (typeof LANGUAGES)[number];
export const LANGUAGE_KEY = "kindred.lang";

export const resources = {
  en: { translation: en },
  "zh-CN": { translation: zhCN },
} as const;

export function isLanguage(value: unknown): value is Language {
  return typeof value === "string" && (LANGUAGES as readonly string[]).includes(value);
}

function readStoredLanguage(): Language | null {
  try {
    const stored = localStorage.getItem(LANGUAGE_KEY);
    return isLanguage(stored) ? stored : null;
  } catch {
    return null; // storage disabled: fall back to the browser's language
  }
}

/** The stored choice, else the browser's preference (any Chinese → zh-CN), else English. */
export function initialLanguage(): Language {
  const stored = readStoredLanguage();
  if (stored) return stored;
  const preferred = navigator.languages.length > 0 ? navigator.languages : [navigator.language];
  for (const tag of preferred) {
    const lower = tag.toLowerCase();
    if (lower.startsWith("zh")) return "zh-CN";
    if (lower.startsWith("en")) return "en";
  }
  return "en";
}

function reflect(language: string): void {
  if (typeof document !== "undefined") document.documentElement.lang = language;
}

export async function setLanguage(language: Language): Promise<void> {
  try {
    localStorage.setItem(LANGUAGE_KEY, language);
  } catch {
    // storage disabled: the choice lasts for this page only
  }
  await i18next.changeLanguage(language);
}

export function currentLanguage(): Language {
  return isLanguage(i18next.language) ? i18next.language : "en";
}

i18next.on("languageChanged", reflect);

void i18next.use(initReactI18next).init({
  resources,
  lng: initialLanguage(),
  fallbackLng: "en",
  supportedLngs: [...LANGUAGES],
  // Resources are bundled: initialise synchronously so the first render is translated.
  initAsync: false,
  interpolation: { escapeValue: false }, // React escapes
  returnNull: false,
});
reflect(i18next.language);

export default i18next;
