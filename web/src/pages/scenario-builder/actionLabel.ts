import type { TFunction } from "i18next";

const NAMED = [
  "create_record",
  "update_record",
  "create_ticket",
  "assign",
  "reserve_inventory",
  "release_inventory",
  "send_email",
  "webhook",
  "wechat_template",
  "notify",
  "emit_event",
  "set_tag",
  "http",
  "wait",
  "start_agent",
] as const;

type Named = (typeof NAMED)[number];

/** "Create a ticket (create_ticket)": the action in the user's language, with its DSL name. */
export function actionLabel(t: TFunction, name: string): string {
  if ((NAMED as readonly string[]).includes(name)) {
    return t("builder.actionNames.label", { title: t(`builder.actionNames.${name as Named}`), name });
  }
  return name;
}
