import { describe, expect, it } from "vitest";
import type { Kpis } from "../api/governance";
import { consentBars, percent, tagBars } from "./kpis";

const kpis: Kpis = {
  values: 200,
  tag_accuracy: 0.985,
  verified_share: 0.25,
  disputed: 3,
  expired: 7,
  authorization_validity_compliance: 1,
  authorized_accesses: 41,
  consent_rate: 0.4,
  customers: 30,
};

describe("sovereignty KPIs", () => {
  it("shows shares as percentages with one decimal, and nothing when unmeasured", () => {
    expect(percent(0.985)).toBe("98.5");
    expect(percent(1)).toBe("100.0");
    expect(percent(0)).toBe("0.0");
    expect(percent(null)).toBeNull();
  });

  it("breaks values down by provenance state and customers by consent", () => {
    expect(tagBars(kpis).map((b) => [b.key, b.value])).toEqual([
      ["tagged", 200],
      ["verified", 50],
      ["disputed", 3],
      ["expired", 7],
    ]);
    expect(consentBars(kpis).map((b) => b.value)).toEqual([12, 18]);
    expect(consentBars({ ...kpis, consent_rate: null, customers: 0 }).map((b) => b.value)).toEqual([0, 0]);
  });
});
