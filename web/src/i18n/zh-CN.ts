import type { Catalog } from "./en";
import * as builder from "./areas/builder";
import * as operations from "./areas/operations";
import * as agents from "./areas/agents";
import * as workspace from "./areas/workspace";
import * as design from "./areas/design";
import * as graph from "./areas/graph";
import * as governance from "./areas/governance";
import * as notifications from "./areas/notifications";
import * as passport from "./areas/passport";

/** 简体中文。Keys mirror en.ts exactly (the compiler and catalogs.test.ts check it). */
const zhCN: Catalog = {
  app: {
    name: "Kindred",
    title: "{{page}} — Kindred",
  },
  common: {
    loading: "加载中…",
    yes: "是",
    no: "否",
    none: "（无）",
  },
  language: {
    switch: "English",
    switchHint: "将控制台切换为英文",
  },
  shell: {
    skipToContent: "跳到主要内容",
    mainNav: "主导航",
    signedInAs: "当前用户：{{name}}",
    signOut: "退出登录",
  },
  nav: {
    records: "记录",
    scenarios: "场景",
    operations: "运行监控",
    agents: "智能体",
    tasks: "任务",
    graph: "客户图谱",
    import: "导入",
    design: "对象与字段",
    governance: "治理",
  },
  signIn: {
    title: "登录",
    heading: "登录 Kindred",
    email: "邮箱",
    password: "密码",
    submit: "登录",
    submitting: "正在登录…",
    failed: "登录失败：{{detail}}",
    tooMany: "登录尝试过于频繁，请等待 {{seconds}} 秒后再试。",
    expired: "会话已过期，请重新登录。",
    signedOut: "您已退出登录。",
    memoryOnly: "刷新页面不会退出登录；离开共用电脑前请退出登录。",
    restoring: "正在恢复会话…",
  },
  records: {
    objectLabel: "对象",
    filter: "筛选",
    filterHint: "查找“{{field}}”中包含所输入内容的记录。",
    filterHintExact: "查找“{{field}}”与所输入内容完全一致的记录。",
    columns: "列",
    columnsLegend: "要显示的列",
    caption: "{{objects}}，按{{sort}}排序",
    captionUnsorted: "{{objects}}",
    ascending: "“{{field}}”升序",
    descending: "“{{field}}”降序",
    nextPage: "下一页",
    previousPage: "上一页",
    page: "第 {{page}} 页",
    empty: "没有找到记录。",
    untitled: "（无标题）#{{id}}",
    noObjects: "您的角色没有可读取的对象。",
  },
  withheld: {
    label: "已隐去：{{reason}}",
    reasons: {
      "no-consent": "客户未同意",
      "no-purpose": "未声明用途",
      "unknown-purpose": "用途未登记",
      "no-subject": "无可识别的客户",
      "expired-consent": "客户同意已过期",
      "not-yet-valid": "客户同意尚未生效",
      "customer-request": "仅限客户本人请求",
      "not-for-you": "仅供客户本人使用",
      "no-permission": "您的角色无权查看",
      other: "受限",
    },
  },
  record: {
    heading: "{{object}} {{title}}",
    back: "返回{{objects}}",
    details: "详细信息",
    version: "版本 {{version}}",
    updated: "最后更新：{{when}}",
    edit: "编辑",
    editHeading: "编辑 {{title}}",
    save: "保存",
    saving: "正在保存…",
    cancel: "取消",
    saved: "已保存，记录现为版本 {{version}}。",
    noChanges: "没有需要保存的内容：未修改任何字段。",
    notSaved: "记录未保存：",
    readOnly: "此处不可编辑",
    notFound: "该记录不存在，或您无权查看。",
    conflict: {
      title: "有人先保存了这条记录",
      body: "在您编辑期间，其他用户保存了更新的版本（版本 {{version}}）。载入对方的版本进行比较；您输入的内容都会保留在表单中。",
      reload: "载入对方的版本",
      keepEditing: "继续编辑",
      loaded: "已载入对方的版本 {{version}}。您的修改均已保留；双方都修改过的字段下方会显示对方的值。再次保存即可应用您的修改。",
      theirs: "对方的值：{{value}}",
    },
  },
  scenarios: {
    heading: "场景",
  },
  notFound: {
    heading: "页面不存在",
    body: "此地址没有内容。",
    home: "前往记录",
  },
  errors: {
    heading: "出错了",
    network: "无法连接服务器。请检查网络后重试。",
    requestId: "参考编号：{{id}}",
  },
  builder: builder.zh,
  operations: operations.zh,
  agents: agents.zh,
  workspace: workspace.zh,
  design: design.zh,
  graph: graph.zh,
  governance: governance.zh,
  notifications: notifications.zh,
  passport: passport.zh,
};

export default zhCN;
