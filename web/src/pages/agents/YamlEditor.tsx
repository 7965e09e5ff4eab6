/** The definition's YAML in the console's code editor (line numbers, folding, search), with the
 * server's problems as inline markers. The text is owned by the page: edits go up through
 * `onChange`, and a changed `value` (from the graph or a step form) replaces the document. */
import { CodeEditor, type Marker } from "../../components/CodeEditor";

export type { Marker };

export function YamlEditor({
  value,
  onChange,
  markers,
  label,
  description,
  readOnly,
}: {
  value: string;
  onChange: (text: string) => void;
  markers: readonly Marker[];
  /** The accessible name (the visible heading's text). */
  label: string;
  description?: string;
  readOnly: boolean;
}) {
  return (
    <CodeEditor
      value={value}
      onChange={onChange}
      language="yaml"
      setup="basic"
      label={label}
      description={description}
      markers={markers}
      readOnly={readOnly}
      className="agents-yaml"
    />
  );
}
