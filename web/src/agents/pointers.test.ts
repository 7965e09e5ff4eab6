import { describe, expect, it } from "vitest";
import { placeProblems, pointerSegments, stepOfPointer } from "./pointers";

const TEXT = `name: t
steps:
  - id: a
    kind: rule
    rules:
      - {when: "inputs.x ==", then: {a: 1}}
  - id: b
    kind: tool
    tool: crm.nope
`;
const STEPS = [{ id: "a" }, { id: "b" }];

describe("placing the server's problems", () => {
  it("splits JSON Pointers and finds the step they point into", () => {
    expect(pointerSegments("/steps/1/with/a~1b")).toEqual(["steps", "1", "with", "a/b"]);
    expect(stepOfPointer(STEPS, "/steps/1/tool")).toBe("b");
    expect(stepOfPointer(STEPS, "/name")).toBeNull();
  });

  it("marks a CEL error at its offset inside the quoted expression", () => {
    const [placed] = placeProblems(TEXT, [{ path: "/steps/0/rules/0/when", message: "syntax", offset: 11 }], STEPS);
    const quoted = TEXT.indexOf('"inputs.x =="');
    expect(placed?.from).toBe(quoted + 1 + 11);
    expect(placed?.step).toBe("a");
  });

  it("marks a whole value, and a missing field at the nearest node that exists", () => {
    const [tool, missing] = placeProblems(
      TEXT,
      [
        { path: "/steps/1/tool", message: "unknown tool" },
        { path: "/steps/1/with/account", message: "required" },
      ],
      STEPS,
    );
    expect(TEXT.slice(tool?.from, tool?.to)).toBe("crm.nope");
    expect(TEXT.slice(missing?.from, missing?.to)).toContain("id: b");
    expect(missing?.step).toBe("b");
  });
});
