/**
 * axe-core on every page, in jsdom. Colour contrast needs layout, which jsdom does not do:
 * it is checked in the browser tests; the palette in app.css is chosen for WCAG AA.
 */
import { screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import axe from "axe-core";
import i18next from "i18next";
import { describe, expect, it } from "vitest";
import { startSession } from "../session/store";
import { accountRecord, admin } from "./fixtures";
import { fakeKindred } from "./fakeKindred";
import { renderApp } from "./server";

async function violations(): Promise<string[]> {
  const result = await axe.run(document.documentElement, {
    rules: { "color-contrast": { enabled: false } },
    resultTypes: ["violations"],
  });
  return result.violations.map(
    (v) => `${v.impact ?? "?"} ${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`,
  );
}

function oneHeading(): string {
  const headings = screen.getAllByRole("heading", { level: 1 });
  expect(headings).toHaveLength(1);
  return headings[0]?.textContent ?? "";
}

const record = accountRecord();
// Ready when the page's own content is there, in whichever language is on.
const pages: [string, string, () => Promise<void>][] = [
  [
    "sign-in",
    "/sign-in",
    async () => {
      await screen.findByLabelText(i18next.t("signIn.email"));
    },
  ],
  [
    "records",
    "/records/account",
    async () => {
      await screen.findByRole("table");
    },
  ],
  [
    "record detail",
    `/records/account/${record.id}`,
    async () => {
      await screen.findByRole("button", { name: i18next.t("record.edit") });
    },
  ],
  [
    "record edit form",
    `/records/account/${record.id}`,
    async () => {
      const edit = await screen.findByRole("button", { name: i18next.t("record.edit") });
      await userEvent.setup().click(edit);
      await screen.findByRole("button", { name: i18next.t("record.save") });
    },
  ],
  [
    "scenarios",
    "/scenarios",
    async () => {
      await screen.findByRole("link", { name: i18next.t("builder.list.new") });
    },
  ],
  [
    "not found",
    "/nowhere",
    async () => {
      await screen.findByText(i18next.t("notFound.body"));
    },
  ],
];

describe.each(["en", "zh-CN"])("accessibility (%s)", (language) => {
  it.each(pages)("%s has no axe violations, one h1 and a title", async (name, path, ready) => {
    await i18next.changeLanguage(language);
    if (name !== "sign-in") startSession("tok", 3600, admin);
    renderApp(path, fakeKindred().api);
    await ready();
    expect(await violations()).toEqual([]);
    expect(oneHeading()).not.toBe("");
    expect(document.title).toMatch(/ — Kindred$/);
    expect(document.documentElement.lang).toBe(language);
  });
});

describe("accessibility of the conflict dialog", () => {
  it("has no axe violations", async () => {
    startSession("tok", 3600, admin);
    const fake = fakeKindred();
    renderApp(`/records/account/${record.id}`, fake.api);
    const user = userEvent.setup();
    await user.click(await screen.findByRole("button", { name: "Edit" }));
    fake.store.set(record.id, { ...record, version: 9 });
    await user.type(screen.getByLabelText("Notes"), "x");
    await user.click(screen.getByRole("button", { name: "Save" }));
    await screen.findByRole("alertdialog");
    expect(await violations()).toEqual([]);
  });
});

describe("titles", () => {
  it("differ from page to page", async () => {
    const titles = new Set<string>();
    startSession("tok", 3600, admin);
    for (const [name, path, ready] of pages.filter(([n]) => n !== "sign-in" && n !== "record edit form")) {
      const view = renderApp(path, fakeKindred().api);
      await ready();
      titles.add(`${document.title}|${oneHeading()}`);
      view.unmount();
      expect(name).toBeTruthy();
    }
    expect(titles.size).toBe(4);
  });
});
