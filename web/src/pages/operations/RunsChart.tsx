/**
 * Runs over time: an ECharts bar chart (succeeded and failed stacked) in a <figure> named by
 * its caption, with the same numbers in a visually hidden table for screen readers. ECharts is
 * imported piece by piece (core, bar chart, three components, the canvas renderer) and only
 * in this lazily loaded page.
 */
import { BarChart } from "echarts/charts";
import { GridComponent, LegendComponent, TooltipComponent } from "echarts/components";
import * as echarts from "echarts/core";
import { CanvasRenderer } from "echarts/renderers";
import { useEffect, useId, useMemo, useRef } from "react";
import { useTranslation } from "react-i18next";
import type { ScenarioHealth } from "../../api/operations";
import { useLanguage } from "../../components/useLanguage";
import { runsChartOption } from "../../operations/chart";
import { formatBucket } from "../../operations/format";

echarts.use([BarChart, GridComponent, LegendComponent, TooltipComponent, CanvasRenderer]);

/** Whether this browser can draw on a canvas (jsdom, in the page tests, cannot). */
function canDraw(): boolean {
  try {
    return typeof navigator !== "undefined" && !/jsdom/i.test(navigator.userAgent)
      ? document.createElement("canvas").getContext("2d") !== null
      : false;
  } catch {
    return false;
  }
}

export function RunsChart({ health }: { health: ScenarioHealth }) {
  const { t } = useTranslation();
  const language = useLanguage();
  const captionId = useId();
  const container = useRef<HTMLDivElement>(null);
  const chart = useRef<echarts.ECharts | null>(null);
  const labels = useMemo(
    () => ({
      succeeded: t("operations.health.succeeded"),
      failed: t("operations.health.failed"),
      inProgress: t("operations.health.inProgress"),
    }),
    [t],
  );
  const option = useMemo(
    () => runsChartOption(health.buckets, health.bucket_seconds, labels, language),
    [health.buckets, health.bucket_seconds, labels, language],
  );

  useEffect(() => {
    const element = container.current;
    if (element === null || !canDraw()) return undefined;
    try {
      chart.current = echarts.init(element, null, { renderer: "canvas" });
    } catch {
      return undefined; // no canvas here (tests): the table still says it all
    }
    const resize = () => chart.current?.resize();
    const observer = typeof ResizeObserver === "undefined" ? null : new ResizeObserver(resize);
    observer?.observe(element);
    return () => {
      observer?.disconnect();
      chart.current?.dispose();
      chart.current = null;
    };
  }, []);

  useEffect(() => {
    chart.current?.setOption(option as unknown as echarts.EChartsCoreOption, { notMerge: true });
  }, [option]);

  return (
    <figure className="ops-figure" aria-labelledby={captionId}>
      <figcaption id={captionId}>{t("operations.health.chart")}</figcaption>
      <div ref={container} className="ops-chart" aria-hidden="true" />
      <table className="ops-visually-hidden">
        <caption>{t("operations.health.chartTable")}</caption>
        <thead>
          <tr>
            <th scope="col">{t("operations.health.bucketStart")}</th>
            <th scope="col">{labels.succeeded}</th>
            <th scope="col">{labels.failed}</th>
            <th scope="col">{labels.inProgress}</th>
          </tr>
        </thead>
        <tbody>
          {health.buckets.map((bucket) => (
            <tr key={bucket.start}>
              <th scope="row">{formatBucket(bucket.start, health.bucket_seconds, language)}</th>
              <td>{bucket.succeeded}</td>
              <td>{bucket.failed}</td>
              <td>{bucket.in_progress}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </figure>
  );
}
