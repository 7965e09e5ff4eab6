/** The sovereignty KPIs as figures and chart series (pure: tested without a browser). */
import type { Kpis } from "../api/governance";

/** 0.9876 → "98.8"; null (nothing to measure yet) → null. */
export function percent(share: number | null | undefined): string | null {
  if (share === null || share === undefined || !Number.isFinite(share)) return null;
  return (Math.round(share * 1000) / 10).toFixed(1);
}

export interface Bar {
  key: "tagged" | "verified" | "disputed" | "expired" | "consenting" | "notConsenting";
  value: number;
}

/** Values by provenance state: every tagged value, and those verified, disputed, expired. */
export function tagBars(kpis: Kpis): Bar[] {
  const verified = kpis.verified_share === null ? 0 : Math.round(kpis.verified_share * kpis.values);
  return [
    { key: "tagged", value: kpis.values },
    { key: "verified", value: verified },
    { key: "disputed", value: kpis.disputed },
    { key: "expired", value: kpis.expired },
  ];
}

/** Known customers with and without an active consent. */
export function consentBars(kpis: Kpis): Bar[] {
  const consenting = kpis.consent_rate === null ? 0 : Math.round(kpis.consent_rate * kpis.customers);
  return [
    { key: "consenting", value: consenting },
    { key: "notConsenting", value: Math.max(0, kpis.customers - consenting) },
  ];
}
