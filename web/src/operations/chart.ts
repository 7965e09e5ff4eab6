/**
 * The runs-over-time chart's ECharts option, from the health endpoint's buckets: succeeded
 * and failed runs stacked per bucket (runs still in progress on top). Pure: tested without a
 * canvas; the page hands it to ECharts.
 */
import type { RunBucket } from "../api/operations";
import { formatBucket } from "./format";

export interface ChartLabels {
  succeeded: string;
  failed: string;
  inProgress: string;
}

// Colours with 3:1 contrast against white (graphical objects, WCAG 1.4.11).
export const COLOURS = { succeeded: "#1e7b3c", failed: "#b3261e", inProgress: "#5f6b7a" } as const;

export interface RunsChartOption {
  animation: boolean;
  aria: { enabled: boolean };
  color: string[];
  tooltip: { trigger: "axis" };
  legend: { data: string[]; top: number };
  grid: { left: number; right: number; top: number; bottom: number; containLabel: boolean };
  xAxis: { type: "category"; data: string[] };
  yAxis: { type: "value"; minInterval: number };
  series: { name: string; type: "bar"; stack: string; data: number[] }[];
}

export function runsChartOption(
  buckets: readonly RunBucket[],
  bucketSeconds: number,
  labels: ChartLabels,
  language: string,
): RunsChartOption {
  const series = (name: string, pick: (b: RunBucket) => number) => ({
    name,
    type: "bar" as const,
    stack: "runs",
    data: buckets.map(pick),
  });
  return {
    animation: false,
    // The figure's table is the accessible alternative; the canvas is hidden from readers.
    aria: { enabled: false },
    color: [COLOURS.succeeded, COLOURS.failed, COLOURS.inProgress],
    tooltip: { trigger: "axis" },
    legend: { data: [labels.succeeded, labels.failed, labels.inProgress], top: 0 },
    grid: { left: 8, right: 16, top: 36, bottom: 8, containLabel: true },
    xAxis: {
      type: "category",
      data: buckets.map((b) => formatBucket(b.start, bucketSeconds, language)),
    },
    yAxis: { type: "value", minInterval: 1 },
    series: [
      series(labels.succeeded, (b) => b.succeeded),
      series(labels.failed, (b) => b.failed),
      series(labels.inProgress, (b) => b.in_progress),
    ],
  };
}
