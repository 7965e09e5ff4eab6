/** The shared alert dialog: names itself, starts on the safe button, keeps Tab inside. */
import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import axe from "axe-core";
import { useRef } from "react";
import { describe, expect, it, vi } from "vitest";
import { AlertDialog } from "./AlertDialog";

function Example({ onEscape, onGo }: { onEscape: () => void; onGo: () => void }) {
  const stay = useRef<HTMLButtonElement>(null);
  return (
    <AlertDialog title="Discard changes?" message="Your edits are lost." initialFocus={stay} onEscape={onEscape}>
      <button type="button" onClick={onGo}>
        Discard
      </button>
      <button ref={stay} type="button" onClick={onEscape}>
        Keep editing
      </button>
    </AlertDialog>
  );
}

describe("AlertDialog", () => {
  it("is a named, described modal that starts on the safe button and traps Tab", async () => {
    const onEscape = vi.fn();
    const onGo = vi.fn();
    render(<Example onEscape={onEscape} onGo={onGo} />);
    const dialog = screen.getByRole("alertdialog", { name: "Discard changes?" });
    expect(dialog.getAttribute("aria-modal")).toBe("true");
    expect(screen.getByText("Your edits are lost.").id).toBe(dialog.getAttribute("aria-describedby"));
    const keep = screen.getByRole("button", { name: "Keep editing" });
    const discard = screen.getByRole("button", { name: "Discard" });
    expect(document.activeElement).toBe(keep);
    await userEvent.tab();
    expect(document.activeElement).toBe(discard);
    await userEvent.tab({ shift: true });
    expect(document.activeElement).toBe(keep);
    await userEvent.keyboard("{Escape}");
    expect(onEscape).toHaveBeenCalledTimes(1);
    expect(onGo).not.toHaveBeenCalled();
    const result = await axe.run(document.body, { rules: { "color-contrast": { enabled: false } } });
    expect(result.violations.map((v) => v.id)).toEqual([]);
  });
});
