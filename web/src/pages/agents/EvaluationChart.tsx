/** pass^k, deviation rate and intervention rate over an agent's evaluations: an ECharts line
 * chart (modular imports) with an accessible name, and the same data as a table for screen
 * readers. */
import { LineChart } from "echarts/charts";
import { GridComponent, LegendComponent, TooltipComponent } from "echarts/components";
import * as echarts from "echarts/core";
import { SVGRenderer } from "echarts/renderers";
import { useEffect, useRef } from "react";
import { useTranslation } from "react-i18next";
import type { EvaluationPoint } from "../../api/agents";
import { useFormat } from "./parts";

echarts.use([LineChart, GridComponent, LegendComponent, TooltipComponent, SVGRenderer]);

export function EvaluationChart({ points }: { points: readonly EvaluationPoint[] }) {
  const { t } = useTranslation();
  const format = useFormat();
  const host = useRef<HTMLDivElement>(null);
  const labels = points.map((p) => format.dateTime(p.created_at));
  const series = [
    { name: t("agents.evaluations.passK"), key: "pass_k" as const },
    { name: t("agents.evaluations.deviation"), key: "deviation_rate" as const },
    { name: t("agents.evaluations.intervention"), key: "intervention_rate" as const },
  ];

  useEffect(() => {
    if (!host.current) return;
    const chart = echarts.init(host.current, undefined, { renderer: "svg" });
    chart.setOption({
      animation: false,
      tooltip: { trigger: "axis", valueFormatter: (v: unknown) => format.percent(Number(v)) },
      legend: { top: 0 },
      grid: { left: 48, right: 16, top: 40, bottom: 40 },
      xAxis: { type: "category", data: labels },
      yAxis: { type: "value", min: 0, max: 1, axisLabel: { formatter: (v: number) => format.percent(v) } },
      series: series.map((s) => ({
        name: s.name,
        type: "line",
        data: points.map((p) => p[s.key]),
        showSymbol: true,
      })),
    });
    const resize = () => chart.resize();
    window.addEventListener("resize", resize);
    return () => {
      window.removeEventListener("resize", resize);
      chart.dispose();
    };
    // Redrawn when the points or the language change.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [points, t]);

  return (
    <figure className="agents-chart-figure">
      <div
        ref={host}
        className="agents-chart"
        role="img"
        aria-label={t("agents.evaluations.chartLabel", { count: points.length })}
      />
      <figcaption className="hint">{t("agents.evaluations.chartCaption")}</figcaption>
      <table className="agents-sr-only">
        <caption>{t("agents.evaluations.chartTable")}</caption>
        <thead>
          <tr>
            <th scope="col">{t("agents.evaluations.when")}</th>
            {series.map((s) => (
              <th scope="col" key={s.key}>
                {s.name}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {points.map((point, index) => (
            <tr key={point.id}>
              <th scope="row">{labels[index]}</th>
              {series.map((s) => (
                <td key={s.key}>{format.percent(point[s.key])}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </figure>
  );
}
