/**
 * The console's one code editor: CodeMirror 6 for CEL, YAML and JSON, with problems as inline
 * lint markers. Controlled: the text comes from `value` (replaced only when it differs from
 * what the editor holds, so typing is never interrupted) and every edit goes to `onChange`.
 *
 * The editor lives in a shadow root: there CodeMirror styles itself through constructable
 * stylesheets (adoptedStyleSheets), whereas in the document style-mod would add <style>
 * elements, which the console's CSP (style-src 'self') refuses. ID references do not cross the
 * shadow boundary, so its name, description and validity travel as aria-label,
 * aria-description and aria-invalid on the editable element; callers list problems beside it
 * too.
 */
import { yaml } from "@codemirror/lang-yaml";
import { lintGutter, setDiagnostics, type Diagnostic } from "@codemirror/lint";
import { Compartment, EditorState, type Extension } from "@codemirror/state";
import { EditorView, lineNumbers } from "@codemirror/view";
import { basicSetup, minimalSetup } from "codemirror";
import { useEffect, useRef } from "react";

export interface Marker {
  from: number;
  to: number;
  message: string;
}

export type CodeLanguage = "cel" | "yaml" | "json";

interface Props {
  value: string;
  onChange: (text: string) => void;
  language: CodeLanguage;
  /** The editor's accessible name (the visible label's or heading's text). */
  label: string;
  /** Said after the name: an error or a hint. */
  description?: string | null;
  /** Marks the content invalid for assistive technology. */
  invalid?: boolean;
  markers?: readonly Marker[];
  readOnly?: boolean;
  /** "basic": line numbers, folding, search — for whole documents; "minimal" otherwise. */
  setup?: "basic" | "minimal";
  className?: string;
}

const THEME = EditorView.theme({
  "&": { backgroundColor: "#ffffff", color: "#1b1f24" },
  "&.cm-focused": { outline: "2px solid #c2410c" },
  ".cm-scroller": {
    fontFamily: 'ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace',
    maxHeight: "32rem",
  },
  ".cm-content": { minHeight: "1.6rem" },
  ".cm-gutters": { backgroundColor: "#f3f5f8", color: "#4a5260", borderRight: "1px solid #c9d0da" },
});

function contentAttributes(label: string, description?: string | null, invalid?: boolean) {
  const attributes: Record<string, string> = {
    "aria-label": label,
    "aria-multiline": "true",
    role: "textbox",
    // Focusable by tab order explicitly: a long document scrolls, and a scrolling region needs
    // a keyboard stop that checkers (axe: scrollable-region-focusable) can see.
    tabindex: "0",
  };
  if (description) attributes["aria-description"] = description;
  if (invalid) attributes["aria-invalid"] = "true";
  return EditorView.contentAttributes.of(attributes);
}

export function CodeEditor({
  value,
  onChange,
  language,
  label,
  description,
  invalid = false,
  markers = [],
  readOnly = false,
  setup = "minimal",
  className,
}: Props) {
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView | null>(null);
  const changed = useRef(onChange);
  const attributes = useRef(new Compartment());
  const editable = useRef(new Compartment());

  useEffect(() => {
    changed.current = onChange;
  }, [onChange]);

  useEffect(() => {
    if (!host.current) return;
    const root = host.current.shadowRoot ?? host.current.attachShadow({ mode: "open" });
    const extensions: Extension[] = [
      setup === "basic" ? basicSetup : minimalSetup,
      THEME,
      EditorView.lineWrapping,
      attributes.current.of(contentAttributes(label, description, invalid)),
      editable.current.of(EditorState.readOnly.of(readOnly)),
      lintGutter(),
      EditorView.updateListener.of((update) => {
        if (update.docChanged) changed.current(update.state.doc.toString());
      }),
    ];
    if (setup === "minimal" && language !== "cel") extensions.push(lineNumbers());
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
    // The editor is made once per language and setup; the rest is pushed in below.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [language, setup]);

  useEffect(() => {
    view.current?.dispatch({
      effects: attributes.current.reconfigure(contentAttributes(label, description, invalid)),
    });
  }, [label, description, invalid]);

  useEffect(() => {
    view.current?.dispatch({ effects: editable.current.reconfigure(EditorState.readOnly.of(readOnly)) });
  }, [readOnly]);

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

  return <div className={className ?? `code-editor code-editor-${language}`} ref={host} />;
}
