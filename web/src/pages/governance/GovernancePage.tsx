/**
 * /governance: consent and sovereignty KPIs (GET /api/v1/sovereignty/kpis) — each figure
 * explained in a sentence, the breakdowns drawn as bar charts with their numbers in tables.
 */
import { useMemo } from "react";
import { useTranslation } from "react-i18next";
import { useKpis, type Kpis } from "../../api/governance";
import { ProblemMessage } from "../../components/ProblemMessage";
import { consentBars, percent, tagBars } from "../../governance/kpis";
import { BarFigure } from "./BarFigure";
import { GovernanceFrame } from "./GovernanceFrame";

function Figure({ label, value, explain }: { label: string; value: string | null; explain: string }) {
  const { t } = useTranslation();
  return (
    <li className="gov-figure">
      <h2>{label}</h2>
      {value === null ? (
        <p className="gov-figure-value-none">{t("governance.notMeasured")}</p>
      ) : (
        <p className="gov-figure-value">{value}</p>
      )}
      <p className="gov-figure-explain">{explain}</p>
    </li>
  );
}

function Kpis({ kpis }: { kpis: Kpis }) {
  const { t } = useTranslation();
  const share = (value: number | null) => {
    const shown = percent(value);
    return shown === null ? null : t("governance.percent", { value: shown });
  };
  const tags = useMemo(
    () => tagBars(kpis).map((bar) => ({ label: t(`governance.kpis.${bar.key}`), value: bar.value })),
    [kpis, t],
  );
  const consents = useMemo(
    () => consentBars(kpis).map((bar) => ({ label: t(`governance.kpis.${bar.key}`), value: bar.value })),
    [kpis, t],
  );
  return (
    <>
      <ul className="gov-figures">
        <Figure
          label={t("governance.kpis.tagAccuracy")}
          value={share(kpis.tag_accuracy)}
          explain={t("governance.kpis.tagAccuracyExplain", { values: kpis.values })}
        />
        <Figure
          label={t("governance.kpis.authorization")}
          value={share(kpis.authorization_validity_compliance)}
          explain={t("governance.kpis.authorizationExplain", { accesses: kpis.authorized_accesses })}
        />
        <Figure
          label={t("governance.kpis.consentRate")}
          value={share(kpis.consent_rate)}
          explain={t("governance.kpis.consentRateExplain", { customers: kpis.customers })}
        />
        <Figure
          label={t("governance.kpis.verifiedShare")}
          value={share(kpis.verified_share)}
          explain={t("governance.kpis.verifiedShareExplain")}
        />
        <Figure
          label={t("governance.kpis.disputed")}
          value={String(kpis.disputed)}
          explain={t("governance.kpis.disputedExplain")}
        />
        <Figure
          label={t("governance.kpis.expired")}
          value={String(kpis.expired)}
          explain={t("governance.kpis.expiredExplain")}
        />
      </ul>
      <div className="gov-charts">
        <BarFigure
          caption={t("governance.kpis.tagsChart")}
          explain={t("governance.kpis.tagsChartExplain")}
          bars={tags}
        />
        <BarFigure
          caption={t("governance.kpis.consentChart")}
          explain={t("governance.kpis.consentChartExplain")}
          bars={consents}
        />
      </div>
    </>
  );
}

function Overview() {
  const { t } = useTranslation();
  const kpis = useKpis();
  return (
    <>
      <p className="gov-intro">{t("governance.kpis.intro")}</p>
      <div className="gov-actions">
        <button type="button" className="button" onClick={() => void kpis.refetch()} disabled={kpis.isFetching}>
          {t("governance.kpis.refresh")}
        </button>
      </div>
      {kpis.isPending && <p role="status">{t("common.loading")}</p>}
      {kpis.error && <ProblemMessage error={kpis.error} />}
      {kpis.data && <Kpis kpis={kpis.data} />}
    </>
  );
}

export default function GovernancePage() {
  const { t } = useTranslation();
  return (
    <GovernanceFrame section="overview" title={t("governance.kpis.heading")}>
      <Overview />
    </GovernanceFrame>
  );
}
