/** Graph and resolution answers shaped like the server's, for the graph area's tests. */
import type { DuplicatePair, GraphPath, Neighbours, Subgraph } from "../api/graph";
import type { ObjectDefinition, RecordData } from "../api/types";
import { account as accountObject, field } from "../test/fixtures";

export const HOSPITAL = "00000000-0000-7000-8000-0000000000a1";
export const CONTACT_1 = "00000000-0000-7000-8000-0000000000c1";
export const CONTACT_2 = "00000000-0000-7000-8000-0000000000c2";
export const ASSET = "00000000-0000-7000-8000-0000000000d1";
export const PRODUCT = "00000000-0000-7000-8000-0000000000e1";
export const TICKET = "00000000-0000-7000-8000-0000000000f1";

export const accountDef: ObjectDefinition = accountObject;

export const contactDef: ObjectDefinition = {
  ...accountObject,
  name: "contact",
  label: "Contact",
  label_plural: "Contacts",
  label_zh: "联系人",
  title_field: "full_name",
  fields: [
    field({ name: "full_name", type: "text", label: "Full name", label_zh: "姓名" }),
    field({ name: "email", type: "email", label: "Email", sovereignty: "customer_authorized" }),
    field({ name: "title", type: "text", label: "Title" }),
    field({ name: "city", type: "text", label: "City" }),
    field({ name: "account", type: "relation", label: "Account", label_zh: "客户", target: "account" }),
  ],
};

export const assetDef: ObjectDefinition = {
  ...accountObject,
  name: "asset",
  label: "Asset",
  label_plural: "Assets",
  label_zh: "设备",
  title_field: "name",
  fields: [
    field({ name: "name", type: "text", label: "Name" }),
    field({ name: "account", type: "relation", label: "Account", target: "account" }),
    field({ name: "product", type: "relation", label: "Product", label_zh: "产品", target: "product" }),
  ],
};

export const productDef: ObjectDefinition = {
  ...accountObject,
  name: "product",
  label: "Product",
  label_plural: "Products",
  label_zh: "产品",
  title_field: "name",
  fields: [field({ name: "name", type: "text", label: "Name" })],
};

export const ticketDef: ObjectDefinition = {
  ...accountObject,
  name: "ticket",
  label: "Ticket",
  label_plural: "Tickets",
  label_zh: "工单",
  title_field: "subject",
  fields: [
    field({ name: "subject", type: "text", label: "Subject" }),
    field({ name: "contact", type: "relation", label: "Contact", target: "contact" }),
    // Points at an object the user may not read: never an option.
    field({ name: "secret", type: "relation", label: "Secret", target: "vault" }),
  ],
};

export const OBJECTS = [accountDef, contactDef, assetDef, productDef, ticketDef];

function record(id: string, object: string, values: Record<string, unknown>): RecordData {
  return {
    id,
    object,
    version: 1,
    created_at: "2026-01-02T03:04:05.000Z",
    updated_at: "2026-01-02T03:04:05.000Z",
    created_by: null,
    updated_by: null,
    ...values,
  };
}

export const hospital = record(HOSPITAL, "account", { name: "合肥市第九人民医院 #12" });
export const contact1 = record(CONTACT_1, "contact", {
  full_name: "邓敏",
  account: HOSPITAL,
  meta: {
    withheld: [
      { field: "email", reason: "no-purpose", detail: "no purpose was declared", request_consent: "/api/v1/consent-requests" },
    ],
  },
});
export const contact2 = record(CONTACT_2, "contact", { full_name: "柏利", account: HOSPITAL });
export const asset = record(ASSET, "asset", { name: "laboratory unit", account: HOSPITAL, product: PRODUCT });
export const product = record(PRODUCT, "product", { name: "Haematology analyzer" });
export const ticket = record(TICKET, "ticket", { subject: "Screen flickers", contact: CONTACT_1 });

export const edges = {
  c1: { relation: "contact.account", source: CONTACT_1, target: HOSPITAL },
  c2: { relation: "contact.account", source: CONTACT_2, target: HOSPITAL },
  asset: { relation: "asset.account", source: ASSET, target: HOSPITAL },
  product: { relation: "asset.product", source: ASSET, target: PRODUCT },
  ticket: { relation: "ticket.contact", source: TICKET, target: CONTACT_1 },
};

/** The hospital's subgraph at depth 1. */
export function subgraphDepth1(): Subgraph {
  return {
    root: HOSPITAL,
    nodes: [
      { ...hospital, depth: 0 },
      { ...contact1, depth: 1 },
      { ...contact2, depth: 1 },
      { ...asset, depth: 1 },
    ],
    edges: [edges.asset, edges.c1, edges.c2],
    truncated: false,
  };
}

/** Neighbours of the first contact: the hospital again (already drawn) and a ticket. */
export function contactNeighbours(): Neighbours {
  return {
    node: contact1,
    neighbours: [
      { edge: edges.c1, node: hospital },
      { edge: edges.ticket, node: ticket },
    ],
  };
}

/** hospital ← asset → product */
export function pathToProduct(): GraphPath {
  return {
    found: true,
    length: 2,
    nodes: [hospital, asset, product],
    edges: [edges.asset, edges.product],
  };
}

export const noPath: GraphPath = { found: false, nodes: [], edges: [] };

export const DUP_A = "00000000-0000-7000-8000-0000000000b1";
export const DUP_B = "00000000-0000-7000-8000-0000000000b2";

export function duplicatePair(): DuplicatePair {
  return {
    records: [
      record(DUP_A, "contact", {
        full_name: "Wang Lihua",
        title: null,
        city: "合肥",
        account: HOSPITAL,
        meta: {
          withheld: [
            { field: "email", reason: "no-purpose", detail: "no purpose was declared", request_consent: "/api/v1/consent-requests" },
          ],
        },
      }),
      record(DUP_B, "contact", {
        full_name: "王丽华",
        title: "Head nurse",
        city: "合肥",
        account: HOSPITAL,
        meta: {
          withheld: [
            { field: "email", reason: "no-purpose", detail: "no purpose was declared", request_consent: "/api/v1/consent-requests" },
          ],
        },
      }),
    ],
    score: 0.9707,
    decision: "review",
    summary: "Needs review (97%): The names are the same; Same account; Same city.",
    features: [
      {
        feature: "name",
        weight: 5,
        similarity: 1,
        contribution: 5,
        explanation: "The names are the same.",
        conflict: false,
      },
      {
        feature: "account",
        weight: 3,
        similarity: 1,
        contribution: 3,
        explanation: "Same account.",
        conflict: false,
      },
      {
        feature: "wechat_openid",
        weight: 10,
        similarity: 0,
        contribution: -4,
        explanation: "Different WeChat accounts.",
        conflict: true,
      },
    ],
  };
}
