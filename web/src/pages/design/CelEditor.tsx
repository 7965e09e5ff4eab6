/**
 * A CEL expression in the console's code editor, with an accessible name like any input. The
 * server's verdict (an invalid expression's message at its offset) is drawn as an inline error
 * marker and said as the editor's description.
 */
import { useMemo } from "react";
import { CodeEditor, type Marker } from "../../components/CodeEditor";
import type { RuleProblem } from "../../design/fields";

export function CelEditor({
  value,
  onChange,
  label,
  error,
  problems,
}: {
  value: string;
  onChange: (value: string) => void;
  /** The accessible name (the visible label's text). */
  label: string;
  /** The error said at the editor, if any. */
  error: string | null;
  problems: RuleProblem[];
}) {
  const markers = useMemo<Marker[]>(
    () =>
      problems.map((problem) => {
        const from = Math.max(problem.offset ?? 0, 0);
        return { from, to: from + 1, message: problem.message };
      }),
    [problems],
  );
  const invalid = problems.length > 0;
  return (
    <div className="cel-editor" data-invalid={invalid ? "true" : "false"}>
      <CodeEditor
        value={value}
        onChange={onChange}
        language="cel"
        label={label}
        description={error}
        invalid={invalid}
        markers={markers}
        className="cel-editor-host"
      />
    </div>
  );
}
