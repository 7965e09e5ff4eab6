/** Strings of the console's design area: English (the reference) and Simplified Chinese. */
import type { Strings } from "../strings";

export const en = {
  heading: "Design",
} as const;

export const zh: Strings<typeof en> = {
  heading: "设计",
};
