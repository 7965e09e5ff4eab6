import { describe, expect, it } from "vitest";
import en from "./en";
import zhCN from "./zh-CN";

type Tree = { readonly [key: string]: string | Tree };

/** Every leaf as "a.b.c" → value. */
function flatten(tree: Tree, prefix = ""): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const [key, value] of Object.entries(tree)) {
    const path = prefix ? `${prefix}.${key}` : key;
    if (typeof value === "object") {
      for (const [k, v] of flatten(value, path)) out.set(k, v);
    } else {
      out.set(path, value);
    }
  }
  return out;
}

const catalogs = { en: flatten(en), "zh-CN": flatten(zhCN) };
const placeholders = (text: unknown) => [...String(text).matchAll(/\{\{\s*(\w+)\s*\}\}/g)].map((m) => m[1]).sort();

describe("translation catalogs", () => {
  it("have the same keys in en and zh-CN", () => {
    const enKeys = [...catalogs.en.keys()].sort();
    const zhKeys = [...catalogs["zh-CN"].keys()].sort();
    expect(enKeys.filter((k) => !catalogs["zh-CN"].has(k)), "missing in zh-CN").toEqual([]);
    expect(zhKeys.filter((k) => !catalogs.en.has(k)), "missing in en").toEqual([]);
  });

  it.each(Object.entries(catalogs))("%s has no empty or non-string value", (_, catalog) => {
    const bad = [...catalog].filter(([, v]) => typeof v !== "string" || v.trim() === "");
    expect(bad.map(([k]) => k)).toEqual([]);
  });

  it("uses the same {{placeholders}} in both languages", () => {
    const mismatched = [...catalogs.en].filter(
      ([key, text]) => placeholders(text).join() !== placeholders(catalogs["zh-CN"].get(key)).join(),
    );
    expect(mismatched.map(([k]) => k)).toEqual([]);
  });

  it("uses no plural suffixes (zh-CN has no _one form to mirror them)", () => {
    expect([...catalogs.en.keys()].filter((k) => /_(zero|one|two|few|many|other)$/.test(k))).toEqual([]);
  });

  it("keeps the names browser tests rely on", () => {
    const contract: [string, string, string][] = [
      ["signIn.email", "Email", "邮箱"],
      ["signIn.password", "Password", "密码"],
      ["signIn.submit", "Sign in", "登录"],
      ["language.switch", "中文", "English"],
      ["shell.signOut", "Sign out", "退出登录"],
      ["nav.records", "Records", "记录"],
      ["nav.scenarios", "Scenarios", "场景"],
      ["records.objectLabel", "Object", "对象"],
      ["records.filter", "Filter", "筛选"],
      ["records.columns", "Columns", "列"],
      ["records.nextPage", "Next page", "下一页"],
      ["record.edit", "Edit", "编辑"],
      ["record.save", "Save", "保存"],
      ["record.conflict.title", "Someone saved this record first", "有人先保存了这条记录"],
    ];
    for (const [key, english, chinese] of contract) {
      expect([key, catalogs.en.get(key)]).toEqual([key, english]);
      expect([key, catalogs["zh-CN"].get(key)]).toEqual([key, chinese]);
    }
  });
});
