import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it } from "vitest";
import { startSession } from "../../session/store";
import { admin, analyst } from "../../test/fixtures";
import { fakeKindred } from "../../test/fakeKindred";
import { json, problem, renderApp, type Call } from "../../test/server";

const HEADERS = ["First Name", "Last Name", "Email"];
const job = (changes: Record<string, unknown> = {}) => ({
  id: "job-1",
  filename: "hubspot.csv",
  state: "uploaded",
  object: null,
  preset: null,
  mode: "skip_bad_rows",
  headers: HEADERS,
  rows_total: 3,
  rows_done: 0,
  report: null,
  failure: null,
  ...changes,
});
const report = (changes: Record<string, unknown> = {}) => ({
  object: "contact",
  rows: 3,
  created: 2,
  updated: 0,
  skipped: 1,
  dry_run: true,
  committed: false,
  mapping: { "First Name": "first_name", "Last Name": "last_name", Email: "email" },
  ignored_columns: [],
  errors: [{ line: 3, column: "Email", field: "email", code: "format", message: "'x' is not a valid email address" }],
  error_rows: 1,
  record_ids: [],
  ...changes,
});

function preview(body: Record<string, unknown>) {
  const mapping = (body.mapping ?? null) as Record<string, string> | null;
  const suggested: Record<string, string> = { "First Name": "first_name", "Last Name": "last_name", Email: "email" };
  if (mapping && mapping.Email === "title") {
    return problem(422, {
      title: "Validation failed",
      detail: "the column mapping is invalid",
      errors: [{ path: "/mapping/Email", code: "not_writable", message: "your role may not write 'contact.title'" }],
    });
  }
  return json({
    id: "job-1",
    object: "contact",
    preset: body.preset ?? null,
    rows_total: 3,
    columns: HEADERS.map((column) => {
      const field = mapping ? mapping[column] || null : suggested[column];
      return { column, field, suggested: suggested[column], source: field ? (mapping ? "explicit" : "preset") : null };
    }),
    fields: [
      { name: "first_name", label: "First name", label_zh: "名", type: "text", required: false },
      { name: "last_name", label: "Last name", label_zh: "姓", type: "text", required: true },
      { name: "email", label: "Email", label_zh: "邮箱", type: "email", required: false },
      { name: "title", label: "Title", label_zh: "职务", type: "text", required: false },
    ],
    missing_required: [],
    rows: [
      {
        line: 2,
        cells: [
          { column: "First Name", raw: "Wei", value: "Wei", error: null },
          { column: "Last Name", raw: "Zhang", value: "Zhang", error: null },
          { column: "Email", raw: "x", value: "x", error: "'x' is not a valid email address" },
        ],
      },
    ],
  });
}

function importServer() {
  let polls = 0;
  return (call: Call) => {
    const { method, path } = call;
    if (method === "GET" && path === "/api/v1/imports/presets") {
      return json({ data: [{ name: "hubspot-contacts", object: "contact", columns: { Email: "email" } }] });
    }
    if (method === "POST" && path === "/api/v1/imports") {
      return json({ ...job(), suggested_presets: ["hubspot-contacts"] }, { status: 201 });
    }
    if (method === "POST" && path === "/api/v1/imports/job-1/preview") {
      return preview(JSON.parse(call.body) as Record<string, unknown>);
    }
    if (method === "POST" && path === "/api/v1/imports/job-1/dry-run") return json(report());
    if (method === "POST" && path === "/api/v1/imports/job-1/run") {
      return json(job({ state: "running" }), { status: 202 });
    }
    if (method === "GET" && path === "/api/v1/imports/job-1") {
      polls += 1;
      return polls < 2
        ? json(job({ state: "running", rows_done: 2 }))
        : json(job({ state: "done", rows_done: 3, report: report({ dry_run: false, committed: true, record_ids: ["r-1", "r-2"] }) }));
    }
    return undefined;
  };
}

describe("import wizard", () => {
  beforeEach(() => startSession("tok", 3600, admin));

  it("walks from upload through preset, mapping, dry run and import to the summary", async () => {
    const fake = fakeKindred({ override: importServer() });
    renderApp("/import", fake.api);
    const user = userEvent.setup();
    expect(await screen.findByRole("heading", { level: 1, name: "Import records" })).toBeTruthy();
    await user.click(screen.getByRole("button", { name: "Upload" }));
    expect((await screen.findByRole("alert")).textContent).toBe("Choose a file first.");

    const file = new File(["First Name,Last Name,Email\nWei,Zhang,x\n"], "hubspot.csv", { type: "text/csv" });
    await user.upload(screen.getByLabelText("CSV file"), file);
    await user.click(screen.getByRole("button", { name: "Upload" }));
    const upload = fake.calls.find((c) => c.path === "/api/v1/imports" && c.method === "POST");
    expect(upload?.headers.get("Content-Type")).toBe("text/csv");
    expect(upload?.query.get("filename")).toBe("hubspot.csv");
    expect(upload?.body).toContain("Wei,Zhang,x");

    // Step 2: the fitting preset is chosen already.
    expect(await screen.findByRole("heading", { level: 2, name: /Step 2 of 6/ })).toBeTruthy();
    expect(screen.getByRole<HTMLInputElement>("radio", { name: /HubSpot contacts/ }).checked).toBe(true);
    await user.click(screen.getByRole("button", { name: "Next" }));

    // Step 3: the preset's mapping; an invalid value is marked.
    const select = await screen.findByRole("combobox", { name: "Field for column Email" });
    expect((select as HTMLSelectElement).value).toBe("email");
    expect(screen.getByText("Email: 'x' is not a valid email address")).toBeTruthy();
    // A refused mapping shows at its column, and Back/Next keep the choice.
    await user.selectOptions(select, "title");
    expect((await screen.findByText("your role may not write 'contact.title'")).closest("td")).toBe(select.closest("td"));
    await user.selectOptions(screen.getByRole("combobox", { name: "Field for column Email" }), "email");
    await user.click(screen.getByRole("button", { name: "Back" }));
    await user.click(await screen.findByRole("button", { name: "Next" }));
    expect(
      (await screen.findByRole<HTMLSelectElement>("combobox", { name: "Field for column Email" })).value,
    ).toBe("email");
    await waitFor(() => {
      expect(screen.queryByText("your role may not write 'contact.title'")).toBeNull();
    });

    await user.click(screen.getByRole("button", { name: "Dry run" }));
    expect(await screen.findByText(/3 rows checked: 2 would be created, 1 rows have errors/)).toBeTruthy();
    const errors = screen.getByRole("table", { name: "Rows with errors" });
    expect(within(errors).getByText("'x' is not a valid email address")).toBeTruthy();
    const dry = fake.calls.find((c) => c.path.endsWith("/dry-run"));
    expect(JSON.parse(dry?.body ?? "{}")).toEqual({
      mode: "skip_bad_rows",
      preset: "hubspot-contacts",
      mapping: { "First Name": "first_name", "Last Name": "last_name", Email: "email" },
    });

    await user.click(screen.getByRole("button", { name: "Import" }));
    expect(await screen.findByText(/2 records created, 0 updated, 1 rows skipped/)).toBeTruthy();
    expect(screen.getByRole("link", { name: "Show the imported records" }).getAttribute("href")).toBe("/records/contact");
    expect(screen.getByRole("link", { name: "Imported record 1" }).getAttribute("href")).toBe("/records/contact/r-1");
  }, 30_000);

  it("shows a progress bar with its label while the import runs", async () => {
    const fake = fakeKindred({ override: importServer() });
    renderApp("/import", fake.api);
    const user = userEvent.setup();
    await user.upload(await screen.findByLabelText("CSV file"), new File(["a\n1\n"], "a.csv"));
    await user.click(screen.getByRole("button", { name: "Upload" }));
    await user.click(await screen.findByRole("button", { name: "Next" }));
    await user.click(await screen.findByRole("button", { name: "Dry run" }));
    await user.click(await screen.findByRole("button", { name: "Import" }));
    const bar = await screen.findByRole("progressbar", { name: "Importing contact" });
    await waitFor(() => expect(bar.getAttribute("value")).toBe("66"));
    expect(bar.getAttribute("aria-valuetext")).toBe("2 of 3 rows (66%)");
  });

  it("puts the server's refusal of the upload at the file input", async () => {
    const fake = fakeKindred({
      override: (call) =>
        call.method === "POST" && call.path === "/api/v1/imports"
          ? problem(400, { title: "Malformed request", detail: "the file is not CSV: it is a PDF document" })
          : importServer()(call),
    });
    renderApp("/import", fake.api);
    const user = userEvent.setup();
    await user.upload(await screen.findByLabelText("CSV file"), new File(["%PDF"], "a.csv"));
    await user.click(screen.getByRole("button", { name: "Upload" }));
    const input = screen.getByLabelText("CSV file");
    await waitFor(() => expect(input.getAttribute("aria-invalid")).toBe("true"));
    const described = input.getAttribute("aria-describedby")?.split(" ") ?? [];
    const message = described.map((id) => document.getElementById(id)?.textContent ?? "").join(" ");
    expect(message).toContain("the file is not CSV: it is a PDF document");
  });

  it("tells a user who may create nothing that they cannot import", async () => {
    startSession("tok", 3600, analyst);
    renderApp("/import", fakeKindred({ me: analyst, override: importServer() }).api);
    expect(await screen.findByRole("heading", { level: 1, name: "You cannot import records" })).toBeTruthy();
    expect(screen.queryByLabelText("CSV file")).toBeNull();
  });
});
