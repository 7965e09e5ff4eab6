/** Fake scenario routes for page tests, plugged into fakeKindred's `override`. */
import { json, problem, type Call } from "../../test/server";

export const DEVICE_FAULT_SCHEMA = {
  type: "object",
  required: ["device_id", "code", "severity"],
  properties: {
    device_id: { type: "string", minLength: 1 },
    code: { type: "string", minLength: 1 },
    severity: { type: "string", enum: ["minor", "major", "critical"] },
    message: { type: "string" },
  },
};

export const ACTIONS = [
  {
    name: "create_ticket",
    description: "Open a service ticket (work order) for a customer or device.",
    params: {
      subject: { kind: "text", required: true, description: "" },
      priority: { kind: "text", required: false, description: "", choices: ["low", "normal", "high", "urgent"] },
      description: { kind: "text", required: false, description: "" },
    },
    one_of: [],
    available: true,
  },
  {
    name: "notify",
    description: "In-app notification to a user or to everyone with a role.",
    params: {
      user: { kind: "text", required: false, description: "" },
      role: { kind: "text", required: false, description: "" },
      title: { kind: "text", required: true, description: "" },
    },
    one_of: [["user", "role"]],
    available: true,
  },
];

export interface FakeScenarioOptions {
  /** Answer to POST /scenarios/validate (default: valid). */
  validate?: (definition: Record<string, unknown>) => Response | undefined;
  /** Answer to POST /scenarios (default: 201 with the definition). */
  create?: (definition: Record<string, unknown>) => Response | undefined;
  scenarios?: Record<string, unknown>[];
}

export function scenarioRoutes(options: FakeScenarioOptions = {}) {
  const scenarios = options.scenarios ?? [];
  return (call: Call): Response | undefined => {
    const { method, path } = call;
    if (method === "GET" && path === "/api/v1/scenarios") return json({ data: scenarios });
    if (method === "GET" && path === "/api/v1/scenarios/actions") return json({ data: ACTIONS });
    if (method === "GET" && path === "/api/v1/scenario-builder/examples") return json({ data: [] });
    if (method === "GET" && path === "/api/v1/event-types") {
      return json({
        total: 2,
        domains: { iot: "Devices" },
        data: [
          { type: "iot.device.fault", domain: "iot", version: 1, description: "A device reports a fault code over MQTT.", partition_field: "device_id", builtin: true },
          { type: "iot.device.heartbeat", domain: "iot", version: 1, description: "A device is alive.", partition_field: "device_id", builtin: true },
        ],
      });
    }
    if (method === "GET" && path === "/api/v1/event-types/iot.device.fault") {
      return json({
        type: "iot.device.fault",
        domain: "iot",
        version: 1,
        description: "A device reports a fault code over MQTT.",
        schema: DEVICE_FAULT_SCHEMA,
        partition_field: "device_id",
        builtin: true,
        versions: [1],
      });
    }
    if (method === "POST" && path === "/api/v1/scenarios/validate") {
      const definition = JSON.parse(call.body) as Record<string, unknown>;
      return options.validate?.(definition) ?? json({ valid: true, name: String(definition.name), steps: 1 });
    }
    if (method === "POST" && path === "/api/v1/scenarios") {
      const definition = JSON.parse(call.body) as Record<string, unknown>;
      return (
        options.create?.(definition) ??
        json(
          {
            name: definition.name,
            title: definition.title,
            version: 1,
            enabled: false,
            updated_at: "2026-12-07T10:00:00Z",
            updated_by: "u-admin",
            owner: "u-admin",
            run_as: "u-admin",
            enabled_by: null,
            definition,
          },
          { status: 201, headers: { ETag: '"v1"' } },
        )
      );
    }
    const enable = /^\/api\/v1\/scenarios\/([\w-]+)\/(enable|disable)$/.exec(path);
    if (method === "POST" && enable) {
      const found = scenarios.find((s) => s.name === enable[1]);
      if (!found) return problem(404, { title: "Not found", detail: "no such scenario" });
      found.enabled = enable[2] === "enable";
      return json(found);
    }
    return undefined;
  };
}
