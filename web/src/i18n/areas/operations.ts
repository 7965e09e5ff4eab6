/** Strings of the console's operations area: English (the reference) and Simplified Chinese. */
import type { Strings } from "../strings";

export const en = {
  heading: "Operations",
} as const;

export const zh: Strings<typeof en> = {
  heading: "运行监控",
};
