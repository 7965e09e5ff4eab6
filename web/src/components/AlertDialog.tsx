/**
 * The console's one modal alert dialog: a title, a message and two or more buttons. Focus
 * starts on the button the caller marks (`initialFocus`), Tab and Shift+Tab stay inside,
 * Escape takes the `onEscape` way out, and the dialog names and describes itself
 * (`role="alertdialog"`, `aria-modal`, `aria-labelledby`, `aria-describedby`).
 *
 * Why not Radix's or Mantine's dialog: their modal scroll lock (react-remove-scroll) writes a
 * `<style>` element at run time, which the console's Content-Security-Policy
 * (`style-src 'self'`, no nonce) refuses — see docs/console.md, "Accessible primitives".
 */
import { useEffect, useId, useRef, type KeyboardEvent, type ReactNode, type RefObject } from "react";

export function AlertDialog({
  title,
  message,
  initialFocus,
  onEscape,
  children,
}: {
  title: string;
  message: string;
  /** The button focused when the dialog opens (the safe choice). */
  initialFocus: RefObject<HTMLButtonElement | null>;
  onEscape: () => void;
  /** The buttons. */
  children: ReactNode;
}) {
  const titleId = useId();
  const bodyId = useId();
  const dialog = useRef<HTMLDivElement>(null);

  useEffect(() => {
    initialFocus.current?.focus();
  }, [initialFocus]);

  function onKeyDown(event: KeyboardEvent<HTMLDivElement>) {
    if (event.key === "Escape") {
      event.preventDefault();
      onEscape();
      return;
    }
    if (event.key !== "Tab" || !dialog.current) return;
    const buttons = Array.from(dialog.current.querySelectorAll<HTMLButtonElement>("button"));
    const first = buttons[0];
    const last = buttons[buttons.length - 1];
    if (!first || !last) return;
    if (event.shiftKey && document.activeElement === first) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && document.activeElement === last) {
      event.preventDefault();
      first.focus();
    }
  }

  return (
    <div className="dialog-backdrop">
      <div
        ref={dialog}
        className="dialog"
        role="alertdialog"
        aria-modal="true"
        aria-labelledby={titleId}
        aria-describedby={bodyId}
        onKeyDown={onKeyDown}
      >
        <h2 id={titleId}>{title}</h2>
        <p id={bodyId}>{message}</p>
        <div className="dialog-actions">{children}</div>
      </div>
    </div>
  );
}
