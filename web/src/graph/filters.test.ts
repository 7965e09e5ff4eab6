import { describe, expect, it } from "vitest";
import { relationOptions, toggle, typeOptions } from "./filters";
import { OBJECTS, accountDef, productDef } from "./testData";

describe("graph filters", () => {
  it("offers every relation field between readable objects", () => {
    const options = relationOptions(OBJECTS).map((o) => o.value);
    expect(options).toEqual([
      "account.parent_account",
      "asset.account",
      "asset.product",
      "contact.account",
      "ticket.contact",
    ]);
    // ticket.secret points at an object the user may not read.
    expect(options).not.toContain("ticket.secret");
  });

  it("offers only objects that take part in a relation", () => {
    expect(typeOptions(OBJECTS).map((o) => o.name)).toEqual(["account", "asset", "contact", "product", "ticket"]);
    expect(typeOptions([productDef])).toEqual([]);
    expect(typeOptions([accountDef]).map((o) => o.name)).toEqual(["account"]);
  });

  it("toggles a choice, keeping the list sorted (one cache key per choice)", () => {
    expect(toggle([], "contact.account")).toEqual(["contact.account"]);
    expect(toggle(["contact.account"], "asset.account")).toEqual(["asset.account", "contact.account"]);
    expect(toggle(["asset.account", "contact.account"], "asset.account")).toEqual(["contact.account"]);
  });
});
