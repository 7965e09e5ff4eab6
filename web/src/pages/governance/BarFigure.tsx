/**
 * A small bar chart (ECharts, canvas) in a <figure> named by its caption, explained in a
 * sentence, with the same numbers in a visually hidden table for screen readers. ECharts is
 * imported piece by piece and only in the governance page's lazily loaded chunk.
 */
import { BarChart } from "echarts/charts";
import { GridComponent, TooltipComponent } from "echarts/components";
import * as echarts from "echarts/core";
import { CanvasRenderer } from "echarts/renderers";
import { useEffect, useId, useRef } from "react";
import { useTranslation } from "react-i18next";

echarts.use([BarChart, GridComponent, TooltipComponent, CanvasRenderer]);

let canvasWorks: boolean | null = null;

/** Whether this browser draws on a canvas (jsdom does not): else the table says it all. */
function canDraw(): boolean {
  if (canvasWorks === null) {
    try {
      canvasWorks = document.createElement("canvas").getContext("2d") !== null;
    } catch {
      canvasWorks = false;
    }
  }
  return canvasWorks;
}

export interface LabelledBar {
  label: string;
  value: number;
}

export function BarFigure({ caption, explain, bars }: { caption: string; explain: string; bars: LabelledBar[] }) {
  const { t } = useTranslation();
  const captionId = useId();
  const container = useRef<HTMLDivElement>(null);
  const chart = useRef<echarts.ECharts | null>(null);

  useEffect(() => {
    const element = container.current;
    if (element === null || !canDraw()) return undefined;
    try {
      chart.current = echarts.init(element, null, { renderer: "canvas" });
    } catch {
      return undefined; // no canvas here (tests): the table says it all
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
    chart.current?.setOption(
      {
        grid: { left: 48, right: 16, top: 16, bottom: 40 },
        tooltip: { trigger: "axis" },
        xAxis: { type: "category", data: bars.map((b) => b.label), axisLabel: { interval: 0 } },
        yAxis: { type: "value", minInterval: 1 },
        series: [{ type: "bar", data: bars.map((b) => b.value), itemStyle: { color: "#0a4fb8" } }],
      },
      { notMerge: true },
    );
  }, [bars]);

  return (
    <figure className="gov-chart-figure" aria-labelledby={captionId}>
      <figcaption id={captionId}>{caption}</figcaption>
      <p className="gov-figure-explain">{explain}</p>
      <div ref={container} className="gov-chart" aria-hidden="true" />
      <table className="gov-visually-hidden">
        <caption>{caption}</caption>
        <thead>
          <tr>
            <th scope="col">{t("governance.kpis.category")}</th>
            <th scope="col">{t("governance.kpis.count")}</th>
          </tr>
        </thead>
        <tbody>
          {bars.map((bar) => (
            <tr key={bar.label}>
              <th scope="row">{bar.label}</th>
              <td>{bar.value}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </figure>
  );
}
