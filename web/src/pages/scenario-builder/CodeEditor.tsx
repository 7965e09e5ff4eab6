/**
 * CodeMirror 6 for CEL, YAML and JSON, with problems as inline lint markers. Controlled: the
 * text comes from `value` (replaced only when it differs from what the editor holds, so typing
 * is never interrupted) and every edit goes to `onChange`.
 *
 * The editor lives in a shadow root: there CodeMirror styles itself through constructable
 * stylesheets (adoptedStyleSheets), whereas in the document it would add <style> elements,
 * which the console's CSP (style-src 'self') refuses. Its accessible name is an aria-label
 * (ID references do not cross the shadow boundary); its problems are listed beside it too.
 */
import { yaml } from "@codemirror/lang-yaml";
import { lintGutter, setDiagnostics, type Diagnostic } from "@codemirror/lint";
import { EditorState, type Extension } from "@codemirror/state";
import { EditorView, lineNumbers } from "@codemirror/view";
import { minimalSetup } from "codemirror";
import { useEffect, useRef } from "react";

export interface Marker {
  from: number;
  to: number;
  message: string;
}

interface Props {
  value: string;
  onChange: (text: string) => void;
  language: "cel" | "yaml" | "json";
  /** The editor's accessible name. */
  label: string;
  markers?: Marker[];
  readOnly?: boolean;
}

const theme = EditorView.theme({
  "&": { backgroundColor: "#ffffff", color: "#1b1f24" },
  "&.cm-focused": { outline: "2px solid #c2410c" },
  ".cm-scroller": { fontFamily: "ui-monospace, SFMono-Regular, Menlo, monospace", maxHeight: "32rem" },
  ".cm-content": { minHeight: "1.6rem" },
  ".cm-gutters": { backgroundColor: "#f3f5f8", color: "#4a5260", borderRight: "1px solid #c9d0da" },
});

export function CodeEditor({ value, onChange, language, label, markers = [], readOnly = false }: Props) {
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView | null>(null);
  const changed = useRef(onChange);

  useEffect(() => {
    changed.current = onChange;
  }, [onChange]);

  useEffect(() => {
    if (!host.current) return;
    const root = host.current.shadowRoot ?? host.current.attachShadow({ mode: "open" });
    const attributes: Record<string, string> = { "aria-label": label, "aria-multiline": "true" };
    const extensions: Extension[] = [
      minimalSetup,
      theme,
      EditorView.lineWrapping,
      EditorView.contentAttributes.of(attributes),
      EditorState.readOnly.of(readOnly),
      lintGutter(),
      EditorView.updateListener.of((update) => {
        if (update.docChanged) changed.current(update.state.doc.toString());
      }),
    ];
    if (language !== "cel") extensions.push(lineNumbers());
    if (language === "yaml") extensions.push(yaml());
    const created = new EditorView({
      root,
      parent: root,
      state: EditorState.create({ doc: value, extensions }),
    });
    view.current = created;
    return () => {
      created.destroy();
      view.current = null;
    };
    // The editor is made once; value and markers are pushed in below.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [language, label, readOnly]);

  useEffect(() => {
    const current = view.current;
    if (!current) return;
    const text = current.state.doc.toString();
    if (text !== value) {
      current.dispatch({ changes: { from: 0, to: text.length, insert: value } });
    }
  }, [value]);

  useEffect(() => {
    const current = view.current;
    if (!current) return;
    const length = current.state.doc.length;
    const diagnostics: Diagnostic[] = markers.map((marker) => {
      const from = Math.max(0, Math.min(marker.from, length));
      const to = Math.max(from, Math.min(marker.to, length));
      return { from, to, severity: "error", message: marker.message };
    });
    current.dispatch(setDiagnostics(current.state, diagnostics));
  }, [markers, value]);

  return <div className={`code-editor code-editor-${language}`} ref={host} />;
}
