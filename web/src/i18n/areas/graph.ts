/** Strings of the console's graph area: English (the reference) and Simplified Chinese. */
import type { Strings } from "../strings";

export const en = {
  heading: "Customer graph",
} as const;

export const zh: Strings<typeof en> = {
  heading: "客户图谱",
};
