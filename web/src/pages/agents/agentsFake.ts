/** Fake answers of the agents API for this area's page tests (fakeKindred's `override`). */
import type { HumanTask } from "../../api/agents";
import { json, problem, type Call } from "../../test/server";

export function task(partial: Partial<HumanTask> = {}): HumanTask {
  return {
    id: "task-1",
    run_id: "run-1",
    root_id: "run-1",
    step: "approval",
    agent: "order_approval",
    reason: "step",
    title: "Approve the order of Acme Hospital",
    details: { tier: "key", proposal: { discount: 8 } },
    modifiable: ["discount"],
    assignee: { user: null, role: "compliance" },
    status: "open",
    mode: "live",
    outcome: null,
    values: null,
    comment: null,
    decided_by: null,
    decided_at: null,
    due_at: new Date(Date.now() + 2 * 3600_000 + 30 * 60_000).toISOString(),
    overdue: false,
    escalations: 0,
    created_at: new Date().toISOString(),
    ...partial,
  };
}

/** An inbox holding `tasks`; a decision decides the task and answers the continued run. */
export function inbox(tasks: HumanTask[]) {
  const open = new Map(tasks.map((t) => [t.id, t]));
  const decisions: { id: string; body: Record<string, unknown> }[] = [];
  const handler = (call: Call): Response | undefined => {
    if (call.method === "GET" && call.path === "/api/v1/tasks") {
      return json({ data: [...open.values()] });
    }
    const decide = /^\/api\/v1\/tasks\/([\w-]+)\/decision$/.exec(call.path);
    if (call.method === "POST" && decide?.[1]) {
      const current = open.get(decide[1]);
      if (!current) return problem(404, { title: "Not found", detail: "no task" });
      const body = JSON.parse(call.body) as Record<string, unknown>;
      if (body.outcome === "modified" && Number.isNaN(Number((body.values as Record<string, unknown>).discount))) {
        return problem(422, {
          title: "Validation failed",
          detail: "the decision is not valid; nothing was recorded",
          errors: [{ path: "/values/discount", code: "type", message: "discount must be a number" }],
        });
      }
      decisions.push({ id: decide[1], body });
      open.delete(decide[1]);
      return json({
        task: { ...current, status: "decided", outcome: body.outcome, decided_by: "me" },
        run: {
          id: current.root_id,
          agent: current.agent,
          version: 1,
          status: "succeeded",
          outputs: {},
          error: null,
          error_code: null,
          customer_id: null,
          waiting_for: [],
        },
      });
    }
    return undefined;
  };
  return { handler, decisions, open };
}
