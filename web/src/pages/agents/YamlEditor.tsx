/** The definition's YAML in CodeMirror, with the server's problems as inline markers. The text
 * is owned by the page: edits go up through `onChange`, and a changed `value` (from the graph or
 * a step form) replaces the editor's document.
 *
 * The editor lives in a shadow root: CodeMirror's styles (style-mod) go into a <style> element
 * in a document's <head> — refused by the console's CSP (style-src 'self') — but into a
 * constructable stylesheet inside a shadow root. Ids do not cross that boundary, so the name and
 * description travel as aria-label and aria-description. */
import { yaml } from "@codemirror/lang-yaml";
import { lintGutter, setDiagnostics, type Diagnostic } from "@codemirror/lint";
import { EditorState } from "@codemirror/state";
import { EditorView } from "@codemirror/view";
import { basicSetup } from "codemirror";
import { useEffect, useRef } from "react";

export interface Marker {
  from: number;
  to: number;
  message: string;
}

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
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView | null>(null);
  const changed = useRef(onChange);
  useEffect(() => {
    changed.current = onChange;
  }, [onChange]);

  useEffect(() => {
    if (!host.current) return;
    const attributes: Record<string, string> = { "aria-label": label };
    if (description) attributes["aria-description"] = description;
    const shadow = host.current.shadowRoot ?? host.current.attachShadow({ mode: "open" });
    const editor = new EditorView({
      root: shadow,
      parent: shadow,
      state: EditorState.create({
        doc: value,
        extensions: [
          basicSetup,
          yaml(),
          lintGutter(),
          EditorState.readOnly.of(readOnly),
          EditorView.contentAttributes.of(attributes),
          EditorView.updateListener.of((update) => {
            if (update.docChanged) changed.current(update.state.doc.toString());
          }),
        ],
      }),
    });
    view.current = editor;
    return () => {
      editor.destroy();
      view.current = null;
    };
    // The editor is made once; value and markers follow through the effects below.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [label, description, readOnly]);

  useEffect(() => {
    const editor = view.current;
    if (!editor) return;
    const current = editor.state.doc.toString();
    if (current !== value) {
      editor.dispatch({ changes: { from: 0, to: current.length, insert: value } });
    }
  }, [value]);

  useEffect(() => {
    const editor = view.current;
    if (!editor) return;
    const length = editor.state.doc.length;
    const diagnostics: Diagnostic[] = markers.map((marker) => ({
      from: Math.min(marker.from, length),
      to: Math.min(Math.max(marker.to, marker.from), length),
      severity: "error",
      message: marker.message,
    }));
    editor.dispatch(setDiagnostics(editor.state, diagnostics));
  }, [markers, value]);

  return <div ref={host} className="agents-yaml" />;
}
