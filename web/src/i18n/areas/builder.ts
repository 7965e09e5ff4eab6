/** Strings of the console's builder area: English (the reference) and Simplified Chinese. */
import type { Strings } from "../strings";

export const en = {
  heading: "Scenario builder",
} as const;

export const zh: Strings<typeof en> = {
  heading: "场景构建器",
};
