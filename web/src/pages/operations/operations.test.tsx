/** The operations pages against a fake API: what the user sees, what they send, axe. */
import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import axe from "axe-core";
import i18next from "i18next";
import { describe, expect, it } from "vitest";
import { startSession } from "../../session/store";
import { fakeKindred } from "../../test/fakeKindred";
import { admin } from "../../test/fixtures";
import { renderApp, type Call } from "../../test/server";
import { eventStream, frame, health, operationsRoutes, scenario, storedEvent } from "./fakeOperations";

async function violations(): Promise<string[]> {
  const result = await axe.run(document.documentElement, {
    rules: { "color-contrast": { enabled: false } },
    resultTypes: ["violations"],
  });
  return result.violations.map((v) => `${v.impact ?? "?"} ${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
}

function setup(routes = operationsRoutes(), extra?: (call: Call) => Response | undefined) {
  startSession("tok", 3600, admin);
  const fake = fakeKindred({ override: (call) => extra?.(call) ?? routes.handler(call) });
  return { fake, routes };
}

describe("operations overview", () => {
  it("lists each scenario's health with a link to its page, and the inbox and live tail", async () => {
    const { fake } = setup();
    renderApp("/operations", fake.api);
    const link = await screen.findByRole("link", { name: scenario.name });
    expect(link.getAttribute("href")).toBe(`/operations/scenarios/${scenario.name}?period=week`);
    const row = link.closest("tr") as HTMLElement;
    await within(row).findByText("75.0 %");
    expect(within(row).getByText("420 ms")).toBeTruthy();
    expect(within(row).getByText("1.83 s")).toBeTruthy();
    expect(within(row).getByText(/connector-unavailable at step spare_part/)).toBeTruthy();
    expect(within(row).getByText(/Order value: 125,000 \(3 runs\)/)).toBeTruthy();
    expect(screen.getByRole("link", { name: "Dead-letter inbox" })).toBeTruthy();
    expect(screen.getByRole("link", { name: "Live event tail" })).toBeTruthy();
    const healthCall = fake.calls.find((c) => c.path.endsWith("/health"));
    expect(healthCall?.query.get("days")).toBe("7");
    const listCall = fake.calls.find((c) => c.path === "/api/v1/scenarios");
    expect(listCall?.query.get("observable")).toBe("true");
    expect(await violations()).toEqual([]);
  });

  it("explains who sees health when no scenario is the reader's to observe", async () => {
    const { fake } = setup(operationsRoutes(), (call) =>
      call.path === "/api/v1/scenarios" ? Response.json({ data: [] }) : undefined,
    );
    renderApp("/operations", fake.api);
    expect(await screen.findByText(/No scenarios you may observe yet/)).toBeTruthy();
    expect(fake.calls.some((c) => c.path.endsWith("/health"))).toBe(false);
  });
});

describe.each(["en", "zh-CN"])("scenario health page (%s)", (language) => {
  it("names the chart and the run history as the contract says", async () => {
    await i18next.changeLanguage(language);
    const { fake } = setup();
    renderApp(`/operations/scenarios/${scenario.name}`, fake.api);
    expect(await screen.findByRole("heading", { level: 1 })).toHaveProperty(
      "textContent",
      expect.stringContaining(scenario.name) as string,
    );
    const zh = language === "zh-CN";
    const figure = await screen.findByRole("figure", { name: zh ? "运行趋势" : "Runs over time" });
    // The chart's numbers, for those who cannot see it.
    const rows = within(figure).getAllByRole("row");
    expect(rows).toHaveLength(1 + health.buckets.length);
    const history = await screen.findByRole("table", { name: zh ? "运行历史" : "Run history" });
    const [ok, failed] = within(history).getAllByRole("row").slice(1);
    expect(ok?.textContent).toContain(zh ? "成功" : "succeeded");
    expect(failed?.textContent).toContain(zh ? "失败" : "failed");
    expect(within(ok as HTMLElement).getByRole("link").getAttribute("href")).toBe("/operations/runs/run-ok-1");
    expect(screen.getByText("connector-unavailable")).toBeTruthy();
    expect(fake.calls.find((c) => c.path === "/api/v1/scenario-runs")?.query.get("scenario")).toBe(scenario.name);
    expect(await violations()).toEqual([]);
  });
});

describe("run page", () => {
  it("shows each step with its input, output, error and retries, and retries after asking", async () => {
    const { fake } = setup();
    renderApp("/operations/runs/run-failed-1", fake.api);
    const step = await screen.findByRole("article", { name: "Step spare_part — reserve_inventory" });
    expect(within(step).getByText("withheld: this run acted with rights you do not have")).toBeTruthy();
    expect(within(step).getByText("the ERP did not answer")).toBeTruthy();
    expect(within(step).getByText("2")).toBeTruthy(); // retries: 3 attempts
    const user = userEvent.setup();
    await user.click(screen.getByRole("button", { name: "Retry the failed step" }));
    const dialog = screen.getByRole("alertdialog");
    expect(fake.calls.some((c) => c.path.endsWith("/retry"))).toBe(false);
    expect(await violations()).toEqual([]);
    await user.click(within(dialog).getByRole("button", { name: "Yes, do it" }));
    await screen.findByText("The run is running again.");
    expect(fake.calls.filter((c) => c.method === "POST" && c.path.endsWith("/retry"))).toHaveLength(1);
  });
});

describe("dead-letter inbox", () => {
  it("inspects, refuses invalid JSON, fixes and replays a letter after asking", async () => {
    const { fake, routes } = setup();
    renderApp("/operations/dead-letters", fake.api);
    const user = userEvent.setup();
    await user.click(await screen.findByRole("button", { name: "Inspect bad-fault-1" }));
    const payload = await screen.findByLabelText("Payload (JSON)");
    expect((payload as HTMLTextAreaElement).value).toContain('"severity": "catastrophic"');
    expect(await violations()).toEqual([]);

    await user.clear(payload);
    await user.type(payload, '{{"broken": ');
    expect(screen.getByText(/Not valid JSON/)).toBeTruthy();
    expect(payload.getAttribute("aria-invalid")).toBe("true");
    expect(screen.getByRole("button", { name: "Save fix" })).toHaveProperty("disabled", true);

    const fixed = JSON.parse(routes.state.letter.payload) as { data: Record<string, string> };
    fixed.data.severity = "critical";
    await user.clear(payload);
    await user.click(payload);
    await user.paste(JSON.stringify(fixed));
    await user.click(screen.getByRole("button", { name: "Save fix" }));
    await user.click(within(screen.getByRole("alertdialog")).getByRole("button", { name: "Yes, do it" }));
    await screen.findByText("Saved: the dead letter now holds your payload.");
    const patch = fake.calls.find((c) => c.method === "PATCH");
    expect(JSON.parse(patch?.body ?? "{}")).toEqual({ payload: fixed });

    await user.click(screen.getByRole("button", { name: "Replay" }));
    expect(screen.getByRole("alertdialog").textContent).toContain("Ingest bad-fault-1 again now?");
    await user.click(screen.getByRole("button", { name: "Yes, do it" }));
    await screen.findByText("Replayed: 1 event(s) stored, 0 already stored before; positions 17.");
    await waitFor(() => expect(screen.getAllByText("replayed").length).toBeGreaterThan(0));
  });

  it("shows a refusal in place and keeps what was typed", async () => {
    const routes = operationsRoutes();
    const { fake } = setup(routes, (call) =>
      call.method === "POST" && call.path.endsWith("/discard")
        ? new Response(
            JSON.stringify({
              type: "https://kindred.dev/problems/permission-denied",
              title: "Permission denied",
              status: 403,
              detail: "managing dead letters needs one of the roles: admin, integration",
            }),
            { status: 403, headers: { "Content-Type": "application/problem+json" } },
          )
        : undefined,
    );
    renderApp("/operations/dead-letters?letter=dl-1", fake.api);
    const user = userEvent.setup();
    const note = await screen.findByLabelText("Why discard it");
    await user.click(screen.getByRole("button", { name: "Discard" }));
    await user.click(screen.getByRole("button", { name: "Yes, do it" }));
    expect(screen.getByText("Say why it is discarded.")).toBeTruthy();
    expect(fake.calls.some((c) => c.path.endsWith("/discard"))).toBe(false);
    await user.type(note, "duplicate of a later event");
    await user.click(screen.getByRole("button", { name: "Discard" }));
    await user.click(screen.getByRole("button", { name: "Yes, do it" }));
    const alert = await screen.findByText(/managing dead letters needs one of the roles/);
    expect(alert.closest("[role=alert]")).toBeTruthy();
    expect((note as HTMLInputElement).value).toBe("duplicate of a later event");
    expect(JSON.parse(fake.calls.find((c) => c.path.endsWith("/discard"))?.body ?? "{}")).toEqual({
      note: "duplicate of a later event",
    });
  });
});

describe("live tail", () => {
  it("reads the stream with the bearer header and shows events as they come, filtered", async () => {
    const streams: Call[] = [];
    const { fake } = setup(operationsRoutes(), (call) => {
      if (call.path !== "/api/v1/events/stream") return undefined;
      streams.push(call);
      const type = call.query.getAll("type")[0] ?? "iot.device.fault";
      return eventStream([
        frame("ready", { at: "2026-12-07T08:45:00+00:00", position: null }),
        frame("event", storedEvent(String(streams.length * 10), type), String(streams.length * 10)),
      ]);
    });
    renderApp("/operations/live", fake.api);
    await screen.findByText("Live: showing events stored from now on.");
    const table = screen.getByRole("table", { name: /Latest events/ });
    await within(table).findByText("iot.device.fault");
    expect(streams[0]?.headers.get("Authorization")).toBe("Bearer tok");
    expect(await violations()).toEqual([]);

    const user = userEvent.setup();
    await user.type(screen.getByLabelText("Event types"), "customer.birthday.*");
    await user.type(screen.getByLabelText("Key"), "CT-0042");
    await user.click(screen.getByRole("button", { name: "Apply filter" }));
    await within(table).findByText("customer.birthday.*");
    expect(streams[1]?.query.getAll("type")).toEqual(["customer.birthday.*"]);
    expect(streams[1]?.query.get("key")).toBe("CT-0042");
    expect(within(table).queryByText("iot.device.fault")).toBeNull(); // a new filter starts afresh

    await user.click(screen.getByRole("button", { name: "Pause" }));
    expect(screen.getByRole("button", { name: "Resume" }).getAttribute("aria-pressed")).toBe("true");
  });

  it("says why the server refused the stream", async () => {
    const { fake } = setup(operationsRoutes(), (call) =>
      call.path === "/api/v1/events/stream"
        ? new Response(
            JSON.stringify({
              type: "https://kindred.dev/problems/permission-denied",
              title: "Permission denied",
              status: 403,
              detail: "reading the event log needs one of the roles: admin, analyst, compliance, integration",
            }),
            { status: 403, headers: { "Content-Type": "application/problem+json" } },
          )
        : undefined,
    );
    renderApp("/operations/live", fake.api);
    await screen.findByText(/reading the event log needs one of the roles/);
    expect(screen.getByText("The live tail stopped.")).toBeTruthy();
  });
});
