/**
 * A CEL expression in CodeMirror, with an accessible name like any input. The server's verdict
 * (an invalid expression's message at its offset) is drawn as an inline error marker.
 *
 * Why a shadow root: CodeMirror styles itself through style-mod, which (4.1) writes a <style>
 * element into a document's <head> — refused by the console's CSP (style-src 'self') — and
 * uses a constructable stylesheet only inside a shadow root. So the editor lives in one; its
 * name and error travel as aria-label and aria-description (ids do not cross the boundary).
 */
import { defaultKeymap, history, historyKeymap } from "@codemirror/commands";
import { lintGutter, setDiagnostics, type Diagnostic } from "@codemirror/lint";
import { Compartment, EditorState } from "@codemirror/state";
import { EditorView, keymap } from "@codemirror/view";
import { useEffect, useRef } from "react";
import type { RuleProblem } from "../../design/fields";

const THEME = EditorView.theme({
  "&": { fontFamily: 'ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace' },
  "&.cm-focused": { outline: "none" },
  ".cm-content": { minHeight: "2.25rem", padding: "0.25rem" },
});

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
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView | null>(null);
  const changed = useRef(onChange);
  const attributes = useRef(new Compartment());
  useEffect(() => {
    changed.current = onChange;
  }, [onChange]);
  const invalid = problems.length > 0;

  useEffect(() => {
    if (!host.current) return;
    const shadow = host.current.shadowRoot ?? host.current.attachShadow({ mode: "open" });
    const editor = new EditorView({
      root: shadow,
      parent: shadow,
      state: EditorState.create({
        doc: value,
        extensions: [
          history(),
          keymap.of([...defaultKeymap, ...historyKeymap]),
          EditorView.lineWrapping,
          THEME,
          lintGutter(),
          attributes.current.of(EditorView.contentAttributes.of({})),
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
    // The editor is made once; later values arrive through the effect below.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  // A value set from outside (a reset, a reload) replaces the document.
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
    const attrs: Record<string, string> = {
      "aria-label": label,
      "aria-multiline": "true",
      role: "textbox",
    };
    if (error) attrs["aria-description"] = error;
    if (invalid) attrs["aria-invalid"] = "true";
    editor.dispatch({
      effects: attributes.current.reconfigure(EditorView.contentAttributes.of(attrs)),
    });
  }, [label, error, invalid]);

  useEffect(() => {
    const editor = view.current;
    if (!editor) return;
    const length = editor.state.doc.length;
    const diagnostics: Diagnostic[] = problems.map((problem) => {
      const from = Math.min(Math.max(problem.offset ?? 0, 0), length);
      return {
        from,
        to: Math.min(length, from + 1),
        severity: "error",
        message: problem.message,
      };
    });
    editor.dispatch(setDiagnostics(editor.state, diagnostics));
  }, [problems]);

  return <div ref={host} className="cel-editor" data-invalid={invalid ? "true" : "false"} />;
}
