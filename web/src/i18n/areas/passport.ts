/**
 * Strings of the customer's passport page (where emailed sign-in links lead): English (the
 * reference) and Simplified Chinese. Written for customers, not staff.
 */
import type { Strings } from "../strings";

export const en = {
  title: "Your data passport",
  heading: "Your data passport",
  signingIn: "Signing you in…",
  noToken: "This page opens from the sign-in link we email you. Ask for one below.",
  signedInAs: "Signed in as {{name}}",
  name: "{{first}} {{last}}",
  did: "Your identifier (DID)",
  session:
    "You signed in with the emailed link. This session ends in {{minutes}} minutes, or when you close this page.",
  signOut: "Sign out",
  signedOut: "You have signed out.",
  dataCaption: "The data held about you",
  nothingHeld: "No data is held about you.",
  colData: "Data",
  colValue: "Value",
  colDomain: "Held in",
  colConsents: "Your consents",
  colLastRead: "Latest read",
  consents: "{{count}} active",
  noConsents: "none",
  lastRead: "{{when}}, by {{who}}",
  notRead: "not read yet",
  errors: {
    expired: "This sign-in link has expired. Ask for a new one below.",
    used: "This sign-in link has already been used: each link works once. Ask for a new one below.",
    unknown:
      "This sign-in link is not valid. Check that you opened the whole link, or ask for a new one below.",
    tooMany: "Too many attempts. Wait {{seconds}} s, then try again.",
    failed: "Sign-in failed: {{detail}}",
  },
  ask: {
    heading: "Email me a sign-in link",
    email: "Your email address",
    submit: "Send the link",
    sending: "Sending…",
    sent: "If this address belongs to a customer, a link is on its way. It works once, within 15 minutes.",
    failed: "The link could not be asked for: {{detail}}",
  },
};

export const zh: Strings<typeof en> = {
  title: "我的数据护照",
  heading: "我的数据护照",
  signingIn: "正在登录…",
  noToken: "此页面通过我们发送到您邮箱的登录链接打开。请在下方申请链接。",
  signedInAs: "已登录：{{name}}",
  name: "{{last}}{{first}}",
  did: "您的标识符（DID）",
  session: "您已通过邮件中的链接登录。本次会话将在 {{minutes}} 分钟后或关闭此页面时结束。",
  signOut: "退出",
  signedOut: "您已退出。",
  dataCaption: "持有的关于您的数据",
  nothingHeld: "没有持有关于您的数据。",
  colData: "数据",
  colValue: "值",
  colDomain: "所在数据域",
  colConsents: "您的授权",
  colLastRead: "最近读取",
  consents: "{{count}} 项有效",
  noConsents: "无",
  lastRead: "{{when}}，读取者 {{who}}",
  notRead: "尚未被读取",
  errors: {
    expired: "此登录链接已过期。请在下方申请新的链接。",
    used: "此登录链接已被使用，每个链接只能使用一次。请在下方申请新的链接。",
    unknown: "此登录链接无效。请确认打开的是完整链接，或在下方申请新的链接。",
    tooMany: "尝试次数过多。请等待 {{seconds}} 秒后重试。",
    failed: "登录失败：{{detail}}",
  },
  ask: {
    heading: "通过邮件给我发送登录链接",
    email: "您的邮箱地址",
    submit: "发送链接",
    sending: "正在发送…",
    sent: "如果该地址属于客户，链接已在发送途中。链接只能使用一次，15 分钟内有效。",
    failed: "无法申请链接：{{detail}}",
  },
};
