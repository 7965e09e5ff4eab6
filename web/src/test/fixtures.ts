/** Data shaped like the server's answers (read from a `kindred demo` server), for tests. */
import type { FieldDefinition, Me, ObjectDefinition, RecordData } from "../api/types";

export function field(partial: Partial<FieldDefinition> & Pick<FieldDefinition, "name" | "type">) {
  return {
    label: null,
    label_zh: null,
    description: null,
    required: false,
    unique: false,
    indexed: false,
    default: null,
    options: [],
    target: null,
    cardinality: "one",
    inverse_name: null,
    max_length: null,
    minimum: null,
    maximum: null,
    sovereignty: "enterprise_owned",
    standard: true,
    ...partial,
  } satisfies FieldDefinition;
}

export const account: ObjectDefinition = {
  name: "account",
  label: "Account",
  label_plural: "Accounts",
  label_zh: "客户",
  description: null,
  standard: true,
  title_field: "name",
  validation_rules: [],
  parent: null,
  version: 1,
  fields: [
    field({ name: "name", type: "text", label: "Name", label_zh: "名称", required: true }),
    field({
      name: "tier",
      type: "enum",
      label: "Tier",
      options: [
        { value: "a", label: "Key account", label_zh: "重点客户" },
        { value: "b", label: "Standard", label_zh: "普通客户" },
      ],
    }),
    field({ name: "employees", type: "number", label: "Employees", minimum: 0 }),
    field({ name: "active", type: "boolean", label: "Active" }),
    field({ name: "founded", type: "date", label: "Founded" }),
    field({ name: "email", type: "email", label: "Email address", sovereignty: "customer_authorized" }),
    field({ name: "phone", type: "phone", label: "Phone" }),
    field({ name: "parent_account", type: "relation", label: "Parent", target: "account" }),
    field({ name: "notes", type: "long_text", label: "Notes" }),
  ],
};

export const contact: ObjectDefinition = {
  name: "contact",
  label: "Contact",
  label_plural: "Contacts",
  label_zh: "联系人",
  description: null,
  standard: true,
  title_field: "full_name",
  validation_rules: [],
  parent: null,
  version: 1,
  fields: [
    field({ name: "full_name", type: "text", label: "Full name" }),
    field({ name: "email", type: "email", label: "Email", sovereignty: "customer_authorized" }),
  ],
};

const all = ["create", "delete", "read", "update"] as const;

export const admin: Me = {
  id: "u-admin",
  name: "Admin 管理员",
  roles: ["admin"],
  territories: [],
  via: "token",
  permissions: {
    account: { actions: [...all], scope: "all", hidden_fields: [], read_fields: "*", write_fields: "*" },
    contact: { actions: [...all], scope: "all", hidden_fields: [], read_fields: "*", write_fields: "*" },
  },
  manage_metadata: true,
  manage_users: true,
};

export const analyst: Me = {
  id: "u-analyst",
  name: "Analyst",
  roles: ["analyst"],
  territories: [],
  via: "token",
  permissions: {
    account: { actions: ["read"], scope: "all", hidden_fields: ["phone"], read_fields: "*", write_fields: [] },
    contact: { actions: ["read"], scope: "all", hidden_fields: ["email"], read_fields: "*", write_fields: [] },
  },
  manage_metadata: false,
  manage_users: false,
};

export function accountRecord(overrides: Partial<RecordData> = {}): RecordData {
  return {
    id: "018bcfe5-0000-7000-8000-000000000001",
    object: "account",
    version: 3,
    created_at: "2026-01-02T03:04:05.000Z",
    updated_at: "2026-02-03T04:05:06.000Z",
    created_by: null,
    updated_by: null,
    name: "Acme Hospital",
    tier: "a",
    employees: 120,
    active: true,
    founded: "2001-05-06",
    phone: "+86 21 5555 0101",
    parent_account: null,
    notes: null,
    meta: {
      withheld: [
        {
          field: "email",
          reason: "no-consent",
          detail: "the customer has not consented to account.email for marketing",
          request_consent: "/api/v1/consent-requests",
        },
      ],
    },
    ...overrides,
  };
}
