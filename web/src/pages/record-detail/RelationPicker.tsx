import { useQuery } from "@tanstack/react-query";
import { useId, useState, type KeyboardEvent } from "react";
import { useTranslation } from "react-i18next";
import { queryKeys, useObjects } from "../../api/queries";
import type { FieldDefinition, RecordData } from "../../api/types";
import { useWorkspace, workspaceKeys } from "../../api/workspace";
import { useLanguage } from "../../components/useLanguage";
import { objectLabel, recordTitle, titleFilter } from "../../records/fields";
import { useApi, useMe } from "../../session/SessionContext";
import { useDebounced } from "../records/useDebounced";

/**
 * A to-one relation's input: a combobox that searches the related object's records by their
 * title as you type and shows the chosen record's title, never its id. The value is the id.
 */
export function RelationPicker({
  field,
  value,
  onChange,
  inputId,
  label,
  describedBy,
  invalid,
}: {
  field: FieldDefinition;
  value: string;
  onChange: (id: string) => void;
  inputId: string;
  label: string;
  describedBy: string | undefined;
  invalid: boolean | undefined;
}) {
  const { t } = useTranslation();
  const language = useLanguage();
  const me = useMe();
  const calls = useWorkspace();
  const listId = useId();
  const objects = useObjects();
  const targetName = field.target ?? "";
  const target = objects.data?.find((o) => o.name === targetName) ?? null;
  const filter = target ? titleFilter(target, me.permissions[targetName] ?? null) : null;
  const [text, setText] = useState("");
  const [open, setOpen] = useState(false);
  const [active, setActive] = useState(0);
  const query = useDebounced(text.trim(), 250);
  const api = useApi();
  const chosen = useQuery({
    queryKey: queryKeys.record(targetName, value),
    queryFn: () => api.record(targetName, value),
    enabled: value !== "" && target !== null,
  });
  const [titles, setTitles] = useState<Record<string, string>>({});

  const matches = useQuery({
    queryKey: workspaceKeys.picker(targetName, query),
    queryFn: () =>
      calls.records(targetName, {
        limit: 8,
        sort: filter ? filter.field.name : null,
        filters:
          filter && query
            ? [{ field: filter.field.name, operator: filter.operator ?? undefined, value: query }]
            : [],
      }),
    enabled: open && target !== null,
  });
  const options: RecordData[] = matches.data?.data ?? [];
  const objects_ = target ? objectLabel(target, language, true) : targetName;

  function titleOf(record: RecordData): string {
    return (target && recordTitle(target, record)) ?? `#${record.id.slice(-8)}`;
  }

  function choose(record: RecordData) {
    setTitles((known) => ({ ...known, [record.id]: titleOf(record) }));
    onChange(record.id);
    setText("");
    setOpen(false);
  }

  function onKeyDown(event: KeyboardEvent<HTMLInputElement>) {
    if (event.key === "ArrowDown") {
      event.preventDefault();
      setOpen(true);
      setActive((i) => Math.min(i + 1, Math.max(options.length - 1, 0)));
    } else if (event.key === "ArrowUp") {
      event.preventDefault();
      setActive((i) => Math.max(i - 1, 0));
    } else if (event.key === "Enter" && open) {
      const record = options[active];
      if (record) {
        event.preventDefault();
        choose(record);
      }
    } else if (event.key === "Escape") {
      setOpen(false);
    }
  }

  const selectedTitle = value
    ? (titles[value] ??
      (target && chosen.data ? recordTitle(target, chosen.data.record) : null) ??
      `#${value.slice(-8)}`)
    : null;
  const hintId = `${inputId}-hint`;
  const selectedId = `${inputId}-selected`;
  const optionId = (index: number) => `${listId}-${index}`;

  return (
    <div className="picker">
      <label htmlFor={inputId}>{label}</label>
      <input
        id={inputId}
        type="text"
        role="combobox"
        autoComplete="off"
        aria-autocomplete="list"
        aria-expanded={open}
        aria-controls={listId}
        aria-activedescendant={open && options[active] ? optionId(active) : undefined}
        aria-invalid={invalid}
        aria-describedby={[hintId, value ? selectedId : null, describedBy].filter(Boolean).join(" ")}
        value={text}
        onChange={(event) => {
          setText(event.target.value);
          setOpen(true);
          setActive(0);
        }}
        onFocus={() => setOpen(text.length > 0)}
        onBlur={() => setOpen(false)}
        onKeyDown={onKeyDown}
      />
      <p id={hintId} className="hint">
        {t("workspace.picker.hint", { objects: objects_ })}
      </p>
      {selectedTitle !== null && (
        <p id={selectedId} className="picker-selected">
          <span>{t("workspace.picker.selected", { title: selectedTitle })}</span>{" "}
          <button type="button" className="button button-quiet" onClick={() => onChange("")}>
            {t("workspace.picker.clear")}
          </button>
        </p>
      )}
      <ul
        id={listId}
        role="listbox"
        aria-label={t("workspace.picker.options", { objects: objects_ })}
        className="picker-options"
        hidden={!open}
      >
        {open && matches.isSuccess && options.length === 0 && (
          <li className="muted" role="option" aria-selected={false} aria-disabled="true">
            {t("workspace.picker.noMatches", { objects: objects_ })}
          </li>
        )}
        {open &&
          options.map((record, index) => (
            <li
              key={record.id}
              id={optionId(index)}
              role="option"
              aria-selected={index === active}
              className={index === active ? "picker-option active" : "picker-option"}
              // mousedown, not click: the input's blur would close the list first.
              onMouseDown={(event) => {
                event.preventDefault();
                choose(record);
              }}
            >
              {titleOf(record)}
            </li>
          ))}
      </ul>
    </div>
  );
}
