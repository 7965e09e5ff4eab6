import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startSession } from "../../session/store";
import { fakeKindred } from "../../test/fakeKindred";
import { admin, analyst } from "../../test/fixtures";
import { json, problem, renderApp } from "../../test/server";
import { scenarioRoutes, type FakeScenarioOptions } from "./fakeScenarios";

// jsdom does no layout: @xyflow/react measures its pane with a ResizeObserver, which jsdom
// lacks. One that never reports is what a page without layout would see.
beforeAll(() => {
  if (!Reflect.has(globalThis, "ResizeObserver")) {
    Reflect.set(
      globalThis,
      "ResizeObserver",
      class {
        observe(): void {
          /* no layout in jsdom */
        }
        unobserve(): void {
          /* no layout in jsdom */
        }
        disconnect(): void {
          /* no layout in jsdom */
        }
      },
    );
  }
  // CodeMirror measures text through ranges; jsdom has no layout to measure.
  if (!Reflect.has(Range.prototype, "getClientRects")) {
    Reflect.set(Range.prototype, "getClientRects", () => Object.assign([], { item: () => null }));
    Reflect.set(Range.prototype, "getBoundingClientRect", () => new DOMRect());
  }
});

function fake(options: FakeScenarioOptions = {}) {
  return fakeKindred({ override: scenarioRoutes(options) });
}

/** The CodeMirror editor inside a container (it lives in the host's shadow root). */
async function codeEditor(container: HTMLElement) {
  const host = await waitFor(() => {
    const found = container.querySelector(".code-editor");
    if (!found?.shadowRoot) throw new Error("no editor yet");
    return found;
  });
  const root = host.shadowRoot as ShadowRoot;
  const { EditorView } = await import("@codemirror/view");
  const content = root.querySelector<HTMLElement>(".cm-content");
  const view = EditorView.findFromDOM(root.querySelector(".cm-editor") as HTMLElement);
  if (!content || !view) throw new Error("no CodeMirror view");
  return { root, content, view };
}

/** Type a whole text at once (one change, as a paste): keystrokes re-render the builder each. */
async function enter(user: ReturnType<typeof userEvent.setup>, input: HTMLElement, text: string) {
  await user.click(input);
  await user.paste(text);
}

async function pickDeviceFault(user: ReturnType<typeof userEvent.setup>) {
  await user.type(await screen.findByLabelText("Find an event type", {}, { timeout: 10_000 }), "device fault");
  await user.click(await screen.findByRole("button", { name: "Add iot.device.fault" }));
}

describe("scenario builder", { timeout: 60_000 }, () => {
  beforeEach(() => startSession("tok", 3600, admin));

  it("builds a condition with the form, as CEL the server checks", async () => {
    const server = fake();
    renderApp("/scenarios/new", server.api);
    const user = userEvent.setup();
    expect(await screen.findByRole("heading", { level: 1, name: "New scenario" }, { timeout: 10_000 })).toBeTruthy();
    await pickDeviceFault(user);
    await user.click(screen.getByRole("button", { name: "Add a condition" }));
    const condition = screen.getByRole("group", { name: "Condition 1" });
    const rule = within(condition).getByRole("group", { name: "Rule 1" });
    // Fields come from the event type's JSON Schema.
    await waitFor(() => expect(within(rule).getByRole("option", { name: "severity" })).toBeTruthy());
    await user.selectOptions(within(rule).getByLabelText("Field"), "event.data.severity");
    await user.selectOptions(within(rule).getByLabelText("Operator"), "in");
    await user.click(within(rule).getByRole("checkbox", { name: "major" }));
    await user.click(within(rule).getByRole("checkbox", { name: "critical" }));
    expect(within(condition).getByText('event.data.severity in ["major", "critical"]')).toBeTruthy();
    await waitFor(() => {
      const last = server.calls.filter((c) => c.path === "/api/v1/scenarios/validate").at(-1);
      expect(JSON.parse(last?.body ?? "{}")).toMatchObject({
        when: { events: ["iot.device.fault"] },
        and: [{ cel: 'event.data.severity in ["major", "critical"]' }],
      });
    });
    expect(await screen.findByText(/Checked in \d+ ms: no problems/)).toBeTruthy();
  });

  it("shows the server's validation problem at the condition, as a marker in CEL", async () => {
    const server = fake({
      validate: (definition) =>
        Array.isArray(definition.and) && definition.and.length > 0
          ? problem(422, {
              title: "Validation failed",
              detail: "1 problem",
              errors: [
                { path: "/and/0/cel", code: "invalid_cel", message: "unknown variable 'foo' (available: event)", offset: 0 },
              ],
            })
          : undefined,
    });
    renderApp("/scenarios/new", server.api);
    const user = userEvent.setup();
    await pickDeviceFault(user);
    await user.click(screen.getByRole("button", { name: "Add a condition" }));
    const condition = screen.getByRole("group", { name: "Condition 1" });
    await user.click(within(condition).getByRole("button", { name: "Edit as CEL" }));
    const editor = await codeEditor(condition);
    expect(editor.content.getAttribute("aria-label")).toBe("Condition 1 (CEL)");
    expect(editor.content.getAttribute("role")).toBe("textbox");
    editor.view.dispatch({ changes: { from: 0, insert: "foo.x == 1" } });
    expect(await within(condition).findByText("unknown variable 'foo' (available: event)")).toBeTruthy();
    expect(within(condition).getByText("Condition error:")).toBeTruthy();
    expect(await screen.findByText(/Checked in \d+ ms: 1 problem\(s\)/)).toBeTruthy();
    await waitFor(() => expect(editor.root.querySelector(".cm-lintRange-error")).not.toBeNull());
  });

  it("adds steps from the catalog and places a save error at the step, keeping what was typed", async () => {
    const server = fake({
      create: () =>
        problem(422, {
          title: "Validation failed",
          detail: "1 problem",
          errors: [{ path: "/then/1/with/role", code: "unknown_param", message: "notify needs a user or a role" }],
        }),
    });
    renderApp("/scenarios/new", server.api);
    const user = userEvent.setup();
    await enter(user, await screen.findByLabelText("Title", {}, { timeout: 10_000 }), "Fault ticket");
    await enter(user, screen.getByLabelText("Identifier"), "fault-ticket");
    await pickDeviceFault(user);
    await user.selectOptions(await screen.findByLabelText("Action for a new step"), "create_ticket");
    await user.click(screen.getByRole("button", { name: "Add step" }));
    const ticket = screen.getByRole("group", { name: "Settings of create_ticket" });
    await enter(user, within(ticket).getByLabelText("subject (required)"), "Fault ");
    await user.selectOptions(within(ticket).getByLabelText("Insert a value into subject"), "event.data.code");
    expect(within(ticket).getByLabelText<HTMLInputElement>("subject (required)").value).toBe(
      "Fault {{ event.data.code }}",
    );
    await user.selectOptions(screen.getByLabelText("Action for a new step"), "notify");
    await user.click(screen.getByRole("button", { name: "Add step" }));
    const notify = screen.getByRole("group", { name: "Settings of notify" });
    await enter(user, within(notify).getByLabelText("title (required)"), "Fault on {{ event.data.device_id }}");
    // The flow shows both steps after the trigger.
    const flow = screen.getByRole("region", { name: "The steps as a flow" });
    await waitFor(() => expect(within(flow).getByText("create_ticket")).toBeTruthy());

    await user.click(screen.getByRole("button", { name: "Save" }));
    expect(await screen.findByText("The scenario was not saved")).toBeTruthy();
    const card = screen.getByText("notify needs a user or a role").closest("li.step-card");
    expect(card?.getAttribute("data-pointer")).toBe("/then/1");
    expect(within(notify).getByLabelText<HTMLInputElement>("title (required)").value).toBe(
      "Fault on {{ event.data.device_id }}",
    );
    const sent: unknown = JSON.parse(server.calls.find((c) => c.method === "POST" && c.path === "/api/v1/scenarios")?.body ?? "{}");
    expect(sent).toMatchObject({
      name: "fault-ticket",
      then: [
        { id: "create_ticket", action: "create_ticket", with: { subject: "Fault {{ event.data.code }}" } },
        { id: "notify", action: "notify", with: { title: "Fault on {{ event.data.device_id }}" } },
      ],
    });
  });

  it("keeps the YAML and the form in sync, and keeps the form when the YAML breaks", async () => {
    renderApp("/scenarios/new", fake().api);
    const user = userEvent.setup();
    await user.type(await screen.findByLabelText("Title", {}, { timeout: 10_000 }), "Hello");
    await user.click(screen.getByRole("tab", { name: "YAML" }));
    const editor = await codeEditor(screen.getByRole("tabpanel", { name: "YAML" }));
    expect(editor.content.getAttribute("aria-label")).toBe("Scenario YAML");
    await waitFor(() => expect(editor.content.textContent).toContain("title: Hello"));
    // Typing into CodeMirror in jsdom: replace the document through its view.
    const { view } = editor;
    const replace = (text: string) => view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text } });
    replace("name: hello\ntitle: From YAML\nwhen: {events: [iot.device.fault]}\nthen: []\n");
    await waitFor(() => expect(screen.getByLabelText<HTMLInputElement>("Title").value).toBe("From YAML"));
    replace("name: hello\ntitle: [broken\n");
    expect(await screen.findByText(/Not valid YAML/)).toBeTruthy();
    expect(screen.getByLabelText<HTMLInputElement>("Title").value).toBe("From YAML");
  });

  it("tells an analyst that building scenarios is not allowed", async () => {
    startSession("tok", 3600, analyst);
    renderApp("/scenarios/new", fakeKindred({ me: analyst, override: scenarioRoutes() }).api);
    expect(await screen.findByRole("alert")).toHaveProperty(
      "textContent",
      "You may not build scenarios: that needs one of the roles admin, sales or service (your roles: analyst).",
    );
    expect(screen.queryByRole("button", { name: "Save" })).toBeNull();
  });
});

describe("scenario list", { timeout: 30_000 }, () => {
  beforeEach(() => startSession("tok", 3600, admin));

  it("lists scenarios and switches one on, showing the server's answer", async () => {
    const scenarios = [
      {
        name: "fault-ticket",
        title: "Fault ticket",
        version: 2,
        enabled: false,
        updated_at: "2026-12-07T10:00:00Z",
        updated_by: "u-admin",
        owner: "u-admin",
        run_as: "u-admin",
        enabled_by: null,
        definition: { description: "Major faults open a ticket." },
      },
    ];
    const server = fakeKindred({ override: scenarioRoutes({ scenarios }) });
    renderApp("/scenarios", server.api);
    const table = await screen.findByRole("table", { name: "1 scenario(s)" });
    expect(within(table).getByRole("link", { name: "Fault ticket" }).getAttribute("href")).toBe("/scenarios/fault-ticket");
    expect(within(table).getByText("Disabled")).toBeTruthy();
    expect(within(table).getByRole("link", { name: "Health of Fault ticket" }).getAttribute("href")).toBe(
      "/operations/scenarios/fault-ticket",
    );
    await userEvent.setup().click(within(table).getByRole("button", { name: "Enable Fault ticket" }));
    expect(await screen.findByText("“Fault ticket” is enabled: matching events now start runs.")).toBeTruthy();
    expect(within(table).getByText("Enabled")).toBeTruthy();
    expect(server.calls.some((c) => c.method === "POST" && c.path === "/api/v1/scenarios/fault-ticket/enable")).toBe(true);
  });

  it("shows a failed switch as the server's problem", async () => {
    const server = fakeKindred({
      override: (call) =>
        call.path.endsWith("/enable")
          ? problem(403, { title: "Forbidden", detail: "building scenarios needs one of the roles: admin" })
          : scenarioRoutes({
              scenarios: [
                { name: "x-y", title: "XY", version: 1, enabled: false, updated_at: "2026-12-07T10:00:00Z", updated_by: null, owner: null, run_as: null, enabled_by: null, definition: {} },
              ],
            })(call) ?? (call.path === "/api/v1/nothing" ? json({}) : undefined),
    });
    renderApp("/scenarios", server.api);
    await userEvent.setup().click(await screen.findByRole("button", { name: "Enable XY" }));
    expect(await screen.findByText("building scenarios needs one of the roles: admin")).toBeTruthy();
  });
});
