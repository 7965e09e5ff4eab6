import { cleanup, configure } from "@testing-library/react";
import { afterEach } from "vitest";
import "../i18n";
import i18next from "i18next";
import { resetSessionForTests } from "../session/store";

// findBy*/waitFor wait for a positive signal; on a loaded machine (CI, parallel builds) the
// default 1 s is too short for a lazily loaded page, so they wait up to 10 s before failing.
configure({ asyncUtilTimeout: 10_000 });

afterEach(async () => {
  cleanup();
  resetSessionForTests();
  localStorage.clear();
  await i18next.changeLanguage("en");
});
