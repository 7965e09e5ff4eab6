import { cleanup } from "@testing-library/react";
import { afterEach } from "vitest";
import "../i18n";
import i18next from "i18next";
import { resetSessionForTests } from "../session/store";

afterEach(async () => {
  cleanup();
  resetSessionForTests();
  localStorage.clear();
  await i18next.changeLanguage("en");
});
