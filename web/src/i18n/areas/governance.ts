/** Strings of the console's governance area: English (the reference) and Simplified Chinese. */
import type { Strings } from "../strings";

export const en = {
  heading: "Governance",
} as const;

export const zh: Strings<typeof en> = {
  heading: "治理",
};
