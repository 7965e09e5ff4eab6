import { useId, type ReactNode, type SelectHTMLAttributes } from "react";

/** A select with its label beside it (not wrapped: a wrapping label's text would include
 * every option, and the select's name must be the label alone). */
export function LabeledSelect({
  label,
  children,
  ...select
}: SelectHTMLAttributes<HTMLSelectElement> & { label: ReactNode }) {
  const id = useId();
  return (
    <span className="labeled">
      <label htmlFor={id}>{label}</label>
      <select id={id} {...select}>
        {children}
      </select>
    </span>
  );
}
