/** Strings of the console's workspace area: English (the reference) and Simplified Chinese. */
import type { Strings } from "../strings";

export const en = {
  heading: "Workspace",
} as const;

export const zh: Strings<typeof en> = {
  heading: "工作区",
};
