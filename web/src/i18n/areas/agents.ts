/** Strings of the console's agents area: English (the reference) and Simplified Chinese. */
import type { Strings } from "../strings";

export const en = {
  heading: "Agents",
} as const;

export const zh: Strings<typeof en> = {
  heading: "智能体",
};
