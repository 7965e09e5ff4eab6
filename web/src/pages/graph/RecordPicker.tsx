import { useId, useState, type KeyboardEvent } from "react";
import { useTranslation } from "react-i18next";
import { useRecordSearch, type SearchHit } from "../../api/graph";
import { useObjects } from "../../api/queries";
import { ProblemMessage } from "../../components/ProblemMessage";
import { useLanguage } from "../../components/useLanguage";
import { objectLabel } from "../../records/fields";
import { useDebounced } from "./useDebounced";

export interface PickedRecord {
  id: string;
  object: string;
  title: string;
}

/**
 * A type-ahead record picker (ARIA combobox with a listbox): what is typed is searched with
 * GET /api/v1/search; arrow keys move through the hits, Enter or a click chooses one.
 */
export function RecordPicker({
  label,
  hint,
  value,
  onPick,
}: {
  label: string;
  hint?: string;
  value: PickedRecord | null;
  onPick: (record: PickedRecord) => void;
}) {
  const { t } = useTranslation();
  const language = useLanguage();
  const id = useId();
  const objects = useObjects();
  const [text, setText] = useState(value?.title ?? "");
  const [open, setOpen] = useState(false);
  const [active, setActive] = useState(0);
  const query = useDebounced(text, 250);
  const search = useRecordSearch(open ? query : "");
  const hits: SearchHit[] = open && query.trim() ? (search.data?.data ?? []) : [];
  const listId = `${id}-list`;
  const hintId = `${id}-hint`;
  const typeOf = (name: string) => {
    const object = objects.data?.find((o) => o.name === name);
    return object ? objectLabel(object, language) : name;
  };

  function choose(hit: SearchHit) {
    setText(hit.title);
    setOpen(false);
    onPick({ id: hit.id, object: hit.object, title: hit.title });
  }

  function onKeyDown(event: KeyboardEvent<HTMLInputElement>) {
    if (event.key === "ArrowDown") {
      event.preventDefault();
      setOpen(true);
      setActive((i) => Math.min(i + 1, Math.max(hits.length - 1, 0)));
    } else if (event.key === "ArrowUp") {
      event.preventDefault();
      setActive((i) => Math.max(i - 1, 0));
    } else if (event.key === "Enter") {
      const hit = hits[active];
      if (open && hit) {
        event.preventDefault();
        choose(hit);
      }
    } else if (event.key === "Escape") {
      setOpen(false);
    }
  }

  const expanded = open && hits.length > 0;
  const settled = open && query.trim() !== "" && query === text && !search.isFetching;
  return (
    <div className="field graph-picker">
      <label htmlFor={id}>{label}</label>
      <input
        id={id}
        type="text"
        role="combobox"
        autoComplete="off"
        aria-autocomplete="list"
        aria-expanded={expanded}
        aria-controls={listId}
        aria-describedby={hint ? hintId : undefined}
        aria-activedescendant={expanded ? `${listId}-${active}` : undefined}
        value={text}
        onChange={(event) => {
          setText(event.target.value);
          setOpen(true);
          setActive(0);
        }}
        onKeyDown={onKeyDown}
        onBlur={() => setOpen(false)}
        onFocus={() => text && setOpen(true)}
      />
      {hint && (
        <p className="hint" id={hintId}>
          {hint}
        </p>
      )}
      <ul id={listId} role="listbox" aria-label={label} className="graph-picker-list" hidden={!expanded}>
        {hits.map((hit, index) => (
          <li
            key={hit.id}
            id={`${listId}-${index}`}
            role="option"
            aria-selected={index === active}
            className={index === active ? "active" : undefined}
            onMouseDown={(event) => event.preventDefault()}
            onClick={() => choose(hit)}
          >
            <span className="graph-picker-type">{typeOf(hit.object)}</span> {hit.title}
          </li>
        ))}
      </ul>
      <p className="graph-sr-only" role="status">
        {open && search.isFetching && query.trim() ? t("graph.picker.searching") : ""}
        {settled && hits.length === 0 && !search.isError ? t("graph.picker.noMatch", { query }) : ""}
        {settled && hits.length > 0 ? t("graph.picker.results", { count: hits.length }) : ""}
      </p>
      {open && search.isError && <ProblemMessage error={search.error} />}
    </div>
  );
}
