import { useCallback, useId, useMemo, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useSearchParams } from "react-router";
import type { ListParams } from "../../api/client";
import { useRecordPage } from "../../api/queries";
import type { FieldDefinition, ObjectDefinition, ObjectPermission, RecordData } from "../../api/types";
import { FieldValue } from "../../components/FieldValue";
import { ProblemMessage } from "../../components/ProblemMessage";
import { useLanguage } from "../../components/useLanguage";
import { WithheldValue } from "../../components/WithheldValue";
import {
  canSortBy,
  cellOf,
  defaultColumns,
  fieldLabel,
  objectLabel,
  orderColumns,
  readableFields,
  recordTitle,
  titleFilter,
  withheldFields,
} from "../../records/fields";
import type { SavedView, ViewFilter } from "../../api/workspace";
import { activeFilters } from "../../records/filters";
import { usePurpose } from "../../api/workspace";
import { PurposePicker } from "../../components/PurposePicker";
import { FilterPanel } from "./FilterPanel";
import { SavedViews } from "./SavedViews";
import { nextSort, parseSort } from "./sorting";
import { useDebounced } from "./useDebounced";

/** `?filter.account=<id>` (a related list's "all" link): equality filters to start with. */
function filtersFromAddress(params: URLSearchParams): ViewFilter[] {
  const found: ViewFilter[] = [];
  for (const [key, value] of params) {
    const match = /^filter\.([a-z][a-z0-9_]*)$/.exec(key);
    if (match?.[1]) found.push({ field: match[1], operator: "eq", value });
  }
  return found;
}

export const PAGE_SIZE = 50;

interface Props {
  object: ObjectDefinition;
  permission: ObjectPermission | null;
}

/** Filter box, column chooser, sortable table and cursor paging of one object's records. */
export function RecordList({ object, permission }: Props) {
  const { t } = useTranslation();
  const language = useLanguage();
  const [searchParams, setSearchParams] = useSearchParams();
  const sortParam = searchParams.get("sort");
  const sort = parseSort(sortParam);
  const fields = useMemo(() => readableFields(object, permission), [object, permission]);
  const [columns, setColumns] = useState<string[]>(() => defaultColumns(object, permission));
  const [filters, setFilters] = useState<ViewFilter[]>(() => filtersFromAddress(searchParams));
  const sent = useDebounced(JSON.stringify(activeFilters(object, filters)), 300);
  const extraFilters = useMemo(
    () => JSON.parse(sent) as { field: string; operator?: string; value: string }[],
    [sent],
  );
  const shown = columns.flatMap((name) => fields.filter((f) => f.name === name));

  // Search as you type: the box updates at once, the query after a pause.
  const filter = titleFilter(object, permission);
  const [text, setText] = useState(searchParams.get("q") ?? "");
  const query = useDebounced(text.trim(), 300);

  // Cursor paging: the cursors of the pages before this one; a new sort or filter restarts.
  const pagingKey = `${sortParam ?? ""}|${query}|${sent}`;
  const [paging, setPaging] = useState<{ key: string; cursors: (string | null)[] }>({
    key: pagingKey,
    cursors: [null],
  });
  const cursors = paging.key === pagingKey ? paging.cursors : [null];
  const cursor = cursors[cursors.length - 1] ?? null;

  const params: ListParams = {
    limit: PAGE_SIZE,
    sort: sortParam,
    cursor,
    filters: [
      ...(filter && query
        ? [{ field: filter.field.name, operator: filter.operator ?? undefined, value: query }]
        : []),
      ...extraFilters,
    ],
  };
  const page = useRecordPage(object.name, params);

  const updateSearch = useCallback(
    (changes: Record<string, string | null>) => {
      setSearchParams(
        (current) => {
          const next = new URLSearchParams(current);
          for (const [key, value] of Object.entries(changes)) {
            if (value) next.set(key, value);
            else next.delete(key);
          }
          return next;
        },
        { replace: true },
      );
    },
    [setSearchParams],
  );

  const applyView = useCallback(
    (view: SavedView | null) => {
      if (!view) {
        updateSearch({ view: null });
        return;
      }
      setFilters(view.filters);
      setColumns(
        view.columns.length > 0 ? orderColumns(object, view.columns) : defaultColumns(object, permission),
      );
      updateSearch({ view: view.id, sort: view.sort });
    },
    [object, permission, updateSearch],
  );

  function onFilter(value: string) {
    setText(value);
    updateSearch({ q: value.trim() || null });
  }

  const purpose = usePurpose();
  const needsPurpose =
    purpose !== null ||
    (page.data?.data ?? []).some((r) => r.meta?.withheld?.some((w) => w.reason === "no-purpose"));
  const sortedField = sort ? fields.find((f) => f.name === sort.field) : undefined;
  const objects = objectLabel(object, language, true);
  const caption = sortedField
    ? t("records.caption", {
        objects,
        sort: t(sort?.descending ? "records.descending" : "records.ascending", {
          field: fieldLabel(sortedField, language),
        }),
      })
    : t("records.captionUnsorted", { objects });

  return (
    <>
      <SavedViews
        object={object.name}
        selected={searchParams.get("view")}
        state={{ filters, sort: sortParam, columns }}
        onApply={applyView}
      />
      <FilterPanel object={object} permission={permission} filters={filters} onChange={setFilters} />
      <div className="toolbar">
        {filter && (
          <div className="field field-inline">
            <label htmlFor="record-filter">{t("records.filter")}</label>
            <input
              id="record-filter"
              type="search"
              value={text}
              onChange={(event) => onFilter(event.target.value)}
              aria-describedby="record-filter-hint"
              autoComplete="off"
            />
            <p id="record-filter-hint" className="hint">
              {t(filter.operator ? "records.filterHint" : "records.filterHintExact", {
                field: fieldLabel(filter.field, language),
              })}
            </p>
          </div>
        )}
        <ColumnsChooser
          fields={fields}
          columns={columns}
          onChange={(chosen) => setColumns(orderColumns(object, chosen))}
        />
      </div>

      {needsPurpose && <PurposePicker />}
      {page.isError && <ProblemMessage error={page.error} />}
      {page.isPending && <p role="status">{t("common.loading")}</p>}
      {page.data && (
        <>
          <div className="table-wrap">
            <table className="records" aria-busy={page.isFetching}>
              <caption>{caption}</caption>
              <thead>
                <tr>
                  {shown.map((field) => (
                    <HeaderCell
                      key={field.name}
                      field={field}
                      sort={sort?.field === field.name ? sort : null}
                      onSort={() => updateSearch({ sort: nextSort(sort, field.name) })}
                    />
                  ))}
                </tr>
              </thead>
              <tbody>
                {page.data.data.map((record) => (
                  <Row key={record.id} object={object} record={record} fields={shown} />
                ))}
              </tbody>
            </table>
          </div>
          {page.data.data.length === 0 && <p>{t("records.empty")}</p>}
          <div className="pager">
            <button
              type="button"
              className="button"
              disabled={cursors.length <= 1}
              onClick={() => setPaging({ key: pagingKey, cursors: cursors.slice(0, -1) })}
            >
              {t("records.previousPage")}
            </button>
            <span aria-live="polite">{t("records.page", { page: cursors.length })}</span>
            <button
              type="button"
              className="button"
              disabled={!page.data.next_cursor || page.isPlaceholderData}
              onClick={() =>
                setPaging({ key: pagingKey, cursors: [...cursors, page.data.next_cursor] })
              }
            >
              {t("records.nextPage")}
            </button>
          </div>
        </>
      )}
    </>
  );
}

function HeaderCell({
  field,
  sort,
  onSort,
}: {
  field: FieldDefinition;
  sort: { descending: boolean } | null;
  onSort: () => void;
}) {
  const language = useLanguage();
  const label = fieldLabel(field, language);
  const ariaSort = sort ? (sort.descending ? "descending" : "ascending") : undefined;
  if (!canSortBy(field)) {
    return <th scope="col">{label}</th>;
  }
  return (
    <th scope="col" aria-sort={ariaSort}>
      <button type="button" className="sort-button" onClick={onSort}>
        {label}
        <span aria-hidden="true" className="sort-mark">
          {sort ? (sort.descending ? "▼" : "▲") : "↕"}
        </span>
      </button>
    </th>
  );
}

function Row({
  object,
  record,
  fields,
}: {
  object: ObjectDefinition;
  record: RecordData;
  fields: FieldDefinition[];
}) {
  const { t } = useTranslation();
  const withheld = withheldFields(record);
  const href = `/records/${object.name}/${record.id}`;
  const title = recordTitle(object, record);
  if (fields.length === 0) {
    return (
      <tr>
        <th scope="row">
          <Link to={href}>{title ?? t("records.untitled", { id: record.id.slice(-8) })}</Link>
        </th>
      </tr>
    );
  }
  return (
    <tr>
      {fields.map((field, index) => {
        const cell = cellOf(record, field.name, withheld);
        const content =
          cell.kind === "withheld" ? (
            <WithheldValue withheld={cell.withheld} />
          ) : (
            <FieldValue field={field} value={cell.value} />
          );
        if (index > 0) return <td key={field.name}>{content}</td>;
        // The first column names the row and opens the record.
        const empty = cell.kind === "value" && (cell.value === null || cell.value === "");
        const plain = cell.kind === "value" && !empty && field.type !== "relation";
        return (
          <th scope="row" key={field.name}>
            {plain ? (
              <Link to={href}>{content}</Link>
            ) : (
              <>
                <Link to={href}>{title ?? t("records.untitled", { id: record.id.slice(-8) })}</Link>
                {empty ? null : <> {content}</>}
              </>
            )}
          </th>
        );
      })}
    </tr>
  );
}

function ColumnsChooser({
  fields,
  columns,
  onChange,
}: {
  fields: FieldDefinition[];
  columns: string[];
  onChange: (columns: string[]) => void;
}) {
  const { t } = useTranslation();
  const language = useLanguage();
  const [open, setOpen] = useState(false);
  const panel = useId();
  function toggle(name: string, checked: boolean) {
    // The caller orders them (title first, then field order), whatever the order of clicks.
    onChange(checked ? [...columns, name] : columns.filter((n) => n !== name));
  }
  return (
    <div className="columns-chooser">
      <button
        type="button"
        className="button"
        aria-expanded={open}
        aria-controls={panel}
        onClick={() => setOpen(!open)}
      >
        {t("records.columns")}
      </button>
      <fieldset id={panel} hidden={!open} className="columns-panel">
        <legend>{t("records.columnsLegend")}</legend>
        {fields.map((field) => {
          const id = `${panel}-${field.name}`;
          return (
            <div key={field.name} className="check">
              <input
                id={id}
                type="checkbox"
                checked={columns.includes(field.name)}
                onChange={(event) => toggle(field.name, event.target.checked)}
              />
              <label htmlFor={id}>{fieldLabel(field, language)}</label>
            </div>
          );
        })}
      </fieldset>
    </div>
  );
}
