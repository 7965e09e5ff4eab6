/**
 * English strings: the reference catalog. zh-CN.ts must have exactly the same keys
 * (checked by the compiler through `Catalog` and by i18n/catalogs.test.ts).
 * No plural suffixes (_one/_other): Chinese has no plural forms, so sentences are written
 * to read well with any number.
 *
 * Each console area keeps its strings in its own file under areas/ (English and Chinese side by
 * side, the Chinese typed by the English); they are mounted here under the area's key.
 */
import type { Strings } from "./strings";
import * as builder from "./areas/builder";
import * as operations from "./areas/operations";
import * as agents from "./areas/agents";
import * as workspace from "./areas/workspace";
import * as design from "./areas/design";
import * as graph from "./areas/graph";
import * as governance from "./areas/governance";
import * as notifications from "./areas/notifications";
import * as passport from "./areas/passport";

const en = {
  app: {
    name: "Kindred",
    title: "{{page}} — Kindred",
  },
  common: {
    loading: "Loading…",
    yes: "Yes",
    no: "No",
    none: "(none)",
  },
  language: {
    switch: "中文",
    switchHint: "Switch the console to Chinese",
  },
  shell: {
    skipToContent: "Skip to main content",
    mainNav: "Main",
    signedInAs: "Signed in as {{name}}",
    signOut: "Sign out",
  },
  nav: {
    records: "Records",
    scenarios: "Scenarios",
    operations: "Operations",
    agents: "Agents",
    tasks: "Tasks",
    graph: "Customer graph",
    import: "Import",
    design: "Objects & fields",
    governance: "Governance",
  },
  signIn: {
    title: "Sign in",
    heading: "Sign in to Kindred",
    email: "Email",
    password: "Password",
    submit: "Sign in",
    submitting: "Signing in…",
    failed: "Sign-in failed: {{detail}}",
    tooMany: "Too many sign-in attempts. Wait {{seconds}} s, then try again.",
    expired: "Your session has expired. Please sign in again.",
    signedOut: "You have signed out.",
    memoryOnly: "Reloading keeps you signed in; sign out before you leave a shared computer.",
    restoring: "Restoring your session…",
  },
  records: {
    objectLabel: "Object",
    filter: "Filter",
    filterHint: "Finds {{field}} values containing what you type.",
    filterHintExact: "Finds records whose {{field}} is exactly what you type.",
    columns: "Columns",
    columnsLegend: "Columns to show",
    caption: "{{objects}}, sorted by {{sort}}",
    captionUnsorted: "{{objects}}",
    ascending: "{{field}} ascending",
    descending: "{{field}} descending",
    nextPage: "Next page",
    previousPage: "Previous page",
    page: "Page {{page}}",
    empty: "No records found.",
    untitled: "(no title) #{{id}}",
    noObjects: "Your roles give you no objects to read.",
  },
  withheld: {
    label: "withheld: {{reason}}",
    reasons: {
      "no-consent": "no consent",
      "no-purpose": "no purpose declared",
      "unknown-purpose": "unknown purpose",
      "no-subject": "no identified customer",
      "expired-consent": "consent expired",
      "not-yet-valid": "consent not yet valid",
      "customer-request": "customer's own request only",
      "not-for-you": "reserved for the customer",
      "no-permission": "not allowed for your role",
      other: "restricted",
    },
  },
  record: {
    heading: "{{object}} {{title}}",
    back: "Back to {{objects}}",
    details: "Details",
    version: "Version {{version}}",
    updated: "Last updated {{when}}",
    edit: "Edit",
    editHeading: "Edit {{title}}",
    save: "Save",
    saving: "Saving…",
    cancel: "Cancel",
    saved: "Saved. The record is now at version {{version}}.",
    noChanges: "Nothing to save: no field was changed.",
    notSaved: "The record was not saved:",
    readOnly: "Not editable here",
    notFound: "This record does not exist or you may not see it.",
    conflict: {
      title: "Someone saved this record first",
      body: "Another user saved a newer version (version {{version}}) while you were editing. Load their version to compare; everything you typed stays in the form.",
      reload: "Load their version",
      keepEditing: "Keep editing",
      loaded: "Their version {{version}} is loaded. Your changes are kept; where you both changed a field, their value is shown below it. Save again to apply yours.",
      theirs: "Their value: {{value}}",
    },
  },
  scenarios: {
    heading: "Scenarios",
  },
  notFound: {
    heading: "Page not found",
    body: "There is nothing at this address.",
    home: "Go to records",
  },
  errors: {
    heading: "Something went wrong",
    network: "The server could not be reached. Check your connection and try again.",
    requestId: "Reference: {{id}}",
  },
  builder: builder.en,
  operations: operations.en,
  agents: agents.en,
  workspace: workspace.en,
  design: design.en,
  graph: graph.en,
  governance: governance.en,
  notifications: notifications.en,
  passport: passport.en,
} as const;

/** The shape every catalog has: the keys of `en`, any strings as values. */
export type Catalog = Strings<typeof en>;

export default en;
