"""CSV import with column mapping and presets, and CSV / JSON Lines export.

Import goes through the record service's bulk path, so it enforces exactly what the API
enforces (types, required fields, relations, CEL rules, uniqueness, permissions) and writes
the change log. Export pages through the same list path as the API, so it honours field
permissions, territory visibility and the field-read hooks.

Spreadsheets run a cell that starts with ``=``, ``+``, ``-``, ``@``, tab or carriage return as a
formula, so a record value like ``=HYPERLINK(…)`` would act in the spreadsheet of whoever opens
an export ("CSV injection"). Every CSV Kindred writes (exports, error reports) therefore puts
a ``'`` in front of such a text value — the mark spreadsheets read as "this is text" (OWASP
"CSV Injection") — and quotes every cell. Numbers are written as they are: ``-5`` is a
constant, not a formula, and a quote would turn it into text. Import keeps every value exactly
as given, except that it takes off one such ``'`` (only before a formula character), so a file
Kindred or a spreadsheet defused imports as the values it stands for and export → import
gives back exactly the records. JSON Lines is not a spreadsheet format and stays raw.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

import orjson
from sqlalchemy.orm import Session

from kindred.errors import KindredError, MalformedRequest, ValidationFailed, field_error
from kindred.records.fields import FieldDefinition, FieldType
from kindred.records.metadata import CompiledObject
from kindred.records.query import ListQuery
from kindred.records.service import RequestContext
from kindred.records.storage import refresh_statistics

BATCH_SIZE = 2000

# Column headers of the CRMs people migrate from, mapped to Kindred fields.
PRESETS: dict[str, tuple[str, dict[str, str]]] = {
    "hubspot-contacts": (
        "contact",
        {
            "First Name": "first_name",
            "Last Name": "last_name",
            "Email": "email",
            "Phone Number": "phone",
            "Mobile Phone Number": "mobile",
            "Job Title": "title",
            "City": "city",
            "Street Address": "address",
            "Preferred language": "language",
            "Lifecycle Stage": "lifecycle",
        },
    ),
    "hubspot-companies": (
        "account",
        {
            "Company name": "name",
            "Name": "name",
            "Company Domain Name": "website",
            "Website URL": "website",
            "Industry": "industry",
            "Phone Number": "phone",
            "City": "city",
            "State/Region": "province",
            "Country/Region": "country",
            "Street Address": "address",
            "Annual Revenue": "annual_revenue",
            "Number of Employees": "employees",
            "About Us": "description",
        },
    ),
    "salesforce-contacts": (
        "contact",
        {
            "FirstName": "first_name",
            "LastName": "last_name",
            "Email": "email",
            "Phone": "phone",
            "MobilePhone": "mobile",
            "Title": "title",
            "Department": "department",
            "MailingCity": "city",
            "MailingStreet": "address",
            "Birthdate": "birthday",
        },
    ),
    "salesforce-accounts": (
        "account",
        {
            "Name": "name",
            "Industry": "industry",
            "Phone": "phone",
            "Website": "website",
            "BillingCity": "city",
            "BillingState": "province",
            "BillingCountry": "country",
            "BillingStreet": "address",
            "AnnualRevenue": "annual_revenue",
            "NumberOfEmployees": "employees",
            "Description": "description",
        },
    ),
}

# What the source CRMs export in a preset's choice columns (their labels as shown, and their
# internal values: both are keyed by ``value_key``), by the field they feed → Kindred's value.
# None: the source's value has no Kindred counterpart; the cell is left empty (the field's
# default applies to a new record) and the import report says so (``translated``).
PRESET_VALUES: dict[str, dict[str, dict[str, str | None]]] = {
    "hubspot-contacts": {
        # HubSpot's lifecycle stages: Subscriber, Lead, Marketing Qualified Lead, Sales
        # Qualified Lead, Opportunity, Customer, Evangelist, Other.
        "lifecycle": {
            "subscriber": "subscriber",
            "lead": "lead",
            "marketingqualifiedlead": "lead",
            "salesqualifiedlead": "lead",
            "opportunity": "lead",
            "customer": "customer",
            "evangelist": "advocate",
            "other": None,
        },
        "language": {
            "english": "en",
            "en": "en",
            "enus": "en",
            "engb": "en",
            "chinese": "zh",
            "chinesesimplified": "zh",
            "chinesetraditional": "zh",
            "zh": "zh",
            "zhcn": "zh",
            "zhtw": "zh",
            "zhhk": "zh",
            "中文": "zh",
        },
    },
}

TRUE_WORDS = {"true", "yes", "y", "1", "是"}
FALSE_WORDS = {"false", "no", "n", "0", "否"}
US_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
# A value a spreadsheet would run as a formula (OWASP's list), after any quotes already in
# front: "'=x" must itself be escaped, or import could not tell it from an escaped "=x".
_NEEDS_ESCAPE = re.compile(r"'*[=+\-@\t\r]")
_ESCAPED = re.compile(r"'+[=+\-@\t\r]")
# Free text keeps every character; typed cells are parsed, and spaces around them mean nothing.
_EXACT_TYPES = frozenset({FieldType.TEXT, FieldType.LONG_TEXT})


@dataclass
class RowError:
    line: int  # 1-based line number in the file, header = line 1
    column: str
    field: str
    code: str
    message: str


@dataclass
class ImportReport:
    object: str
    rows: int = 0
    created: int = 0
    updated: int = 0
    skipped: int = 0
    dry_run: bool = False
    committed: bool = False
    errors: list[RowError] = field(default_factory=list)
    mapping: dict[str, str] = field(default_factory=dict)
    # Columns no field takes (named in every report: a column is never dropped silently).
    ignored_columns: list[str] = field(default_factory=list)
    # Source values a preset translated: {column, field, value, to (None: left empty), rows}.
    translated: list[dict[str, Any]] = field(default_factory=list)
    # Ids of the records written, in file order (not part of ``to_dict``).
    record_ids: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "object": self.object,
            "rows": self.rows,
            "created": self.created,
            "updated": self.updated,
            "skipped": self.skipped,
            "dry_run": self.dry_run,
            "committed": self.committed,
            "mapping": self.mapping,
            "ignored_columns": self.ignored_columns,
            "translated": self.translated,
            "errors": [e.__dict__ for e in self.errors],
        }


MappingSource = Literal["explicit", "preset", "name", "label"]


def label_index(compiled: CompiledObject) -> dict[str, str]:
    """Lower-cased English and Chinese labels → field name (the first field wins a label)."""
    labels: dict[str, str] = {}
    for f in compiled.definition.fields:
        for label in (f.label, f.label_zh):
            key = (label or "").strip().lower()
            if key:
                labels.setdefault(key, f.name)
    return labels


def preset_map(preset: str | None, compiled: CompiledObject) -> dict[str, str]:
    """The preset's column → field map, refused when unknown or made for another object."""
    if not preset:
        return {}
    if preset not in PRESETS:
        raise MalformedRequest(f"unknown preset '{preset}'; choose from {sorted(PRESETS)}")
    preset_object, columns = PRESETS[preset]
    if preset_object != compiled.name:
        raise MalformedRequest(
            f"preset '{preset}' imports {preset_object} records, not {compiled.name}"
        )
    return columns


def suggest_columns(
    headers: list[str], compiled: CompiledObject, *, preset: str | None
) -> list[tuple[str, str | None, MappingSource | None]]:
    """For each column: the field it would feed without an explicit mapping, and why (the
    preset, a column named like the field, or like its English or Chinese label)."""
    from_preset = preset_map(preset, compiled)
    labels = label_index(compiled)
    taken: set[str] = set()
    suggestions: list[tuple[str, str | None, MappingSource | None]] = []
    for column in headers:
        target: str | None = None
        source: MappingSource | None = None
        if column in from_preset and from_preset[column] in compiled.fields:
            target, source = from_preset[column], "preset"
        elif column in compiled.fields or column == "id":
            target, source = column, "name"
        elif column.strip().lower() in labels:
            target, source = labels[column.strip().lower()], "label"
        if target is not None and target in taken:
            target, source = None, None  # the first column for a field wins
        if target is not None:
            taken.add(target)
        suggestions.append((column, target, source))
    return suggestions


def resolve_mapping(
    headers: list[str],
    compiled: CompiledObject,
    *,
    preset: str | None,
    explicit: dict[str, str],
    exact: bool = False,
) -> tuple[dict[str, str], list[str]]:
    """Which CSV column feeds which field: explicit ``--map`` first, then the preset, then
    columns named exactly like a field (or its English or Chinese label). With ``exact``
    only the explicit mapping counts, and a column mapped to ``""`` is left out on purpose.
    Returns (mapping, ignored columns)."""
    mapping: dict[str, str] = {}
    problems: list[dict[str, Any]] = []
    suggested = (
        {}
        if exact
        else {c: t for c, t, _ in suggest_columns(headers, compiled, preset=preset) if t}
    )
    if exact:
        preset_map(preset, compiled)  # an unknown preset is still refused
    for column in headers:
        if column in explicit:
            target = explicit[column]
            if target == "":
                continue
        elif column in suggested:
            target = suggested[column]
        else:
            continue
        if target != "id" and target not in compiled.fields:
            problems.append(
                field_error(
                    f"/mapping/{column}",
                    "unknown_field",
                    f"'{compiled.name}' has no field '{target}'",
                )
            )
            continue
        if target in mapping.values():
            if column in explicit:
                problems.append(
                    field_error(
                        f"/mapping/{column}",
                        "duplicate_field",
                        f"another column already feeds '{target}'",
                    )
                )
            continue  # the first column for a field wins (e.g. "Name" and "Company name")
        mapping[column] = target
    missing = [c for c in explicit if c not in headers]
    problems.extend(
        field_error(f"/mapping/{c}", "unknown_column", f"the file has no column '{c}'")
        for c in missing
    )
    if problems:
        raise ValidationFailed("the column mapping is invalid", errors=problems)
    if not mapping:
        raise ValidationFailed(
            "no column maps to a field",
            errors=[field_error("/mapping", "empty", "use --map 'Column=field' or a --preset")],
        )
    ignored = [c for c in headers if c not in mapping]
    return mapping, ignored


def value_key(text: str) -> str:
    """A choice as written by people or other systems, for matching: case, spaces and
    punctuation left out ("Marketing Qualified Lead" and "marketingqualifiedlead" agree)."""
    return re.sub(r"[\W_]+", "", text.casefold())


def preset_values(preset: str | None, mapping: dict[str, str]) -> dict[str, dict[str, str | None]]:
    """Column → the preset's value translations for the field it feeds (none without one)."""
    by_field = PRESET_VALUES.get(preset or "", {})
    return {column: by_field[target] for column, target in mapping.items() if target in by_field}


def enum_value(definition: FieldDefinition, text: str) -> str:
    """A choice cell → the option it names: its value, or its value, English or Chinese label
    written in another case or spacing ("Customer" → customer, "医院" → hospital). Anything
    else is returned as it is, for the record service to refuse naming the options."""
    values = [o.value for o in definition.options]
    if text in values:
        return text
    key = value_key(text)
    for option in definition.options:
        if key and key in {
            value_key(n) for n in (option.value, option.label, option.label_zh) if n
        }:
            return option.value
    return text


def _translated(raw: str, value: Any, translate: dict[str, str | None]) -> bool:
    """Whether a preset turned the cell into another choice (not merely another spelling)."""
    source = unescape_formula(raw).strip()
    key = value_key(source)
    return key in translate and (value is None or value_key(str(value)) != key)


def escape_formula(text: str) -> str:
    """``text`` as a spreadsheet cell that cannot run as a formula: a leading ``'`` when it
    starts (after any quotes) with ``=``, ``+``, ``-``, ``@``, tab or carriage return."""
    return "'" + text if _NEEDS_ESCAPE.match(text) else text


def unescape_formula(text: str) -> str:
    """The inverse of :func:`escape_formula`: one leading ``'`` off, only where it stands
    before a formula character (a spreadsheet's "this is text" mark); anything else as is."""
    return text[1:] if _ESCAPED.match(text) else text


def convert_cell(
    definition: FieldDefinition, raw: str, translate: dict[str, str | None] | None = None
) -> Any:
    """Spreadsheet text → the JSON value the record service expects (it validates further).

    Text fields keep the cell exactly, leading tabs and spaces included: trimming would change
    what was imported, and turn a value another tool defused with a leading tab back into a
    formula. An empty cell is no value. ``translate``: a preset's source values for the
    field (``PRESET_VALUES``), applied first."""
    value = unescape_formula(raw)
    if definition.type in _EXACT_TYPES:
        return value if value != "" else None
    text = value.strip()
    if text == "":
        return None
    if translate is not None and value_key(text) in translate:
        return translate[value_key(text)]
    match definition.type:
        case FieldType.ENUM:
            return enum_value(definition, text)
        case FieldType.MULTI_ENUM:
            return [enum_value(definition, p.strip()) for p in text.split(";") if p.strip()]
        case FieldType.NUMBER | FieldType.PERCENT:
            cleaned = text.replace(",", "").rstrip("%")
            try:
                number = float(cleaned)
            except ValueError:
                return text  # let the service report a precise type error
            return int(number) if number.is_integer() else number
        case FieldType.MONEY:
            return text.replace(",", "").lstrip("¥$€ ")
        case FieldType.BOOLEAN:
            lowered = text.lower()
            if lowered in TRUE_WORDS:
                return True
            if lowered in FALSE_WORDS:
                return False
            return text
        case FieldType.RELATION if definition.cardinality == "many":
            return [part.strip() for part in text.split(";") if part.strip()]
        case FieldType.URL if not text.lower().startswith(("http://", "https://")):
            return f"https://{text}"
        case FieldType.DATE:
            us = US_DATE.match(text)
            if us:
                return f"{us.group(3)}-{int(us.group(1)):02d}-{int(us.group(2)):02d}"
            return text[:10] if len(text) > 10 and text[10] in "T " else text
        case FieldType.JSON:
            try:
                return orjson.loads(text)
            except orjson.JSONDecodeError:
                return value  # a JSON string, kept exactly like text
    return text


class Importer:
    def __init__(self, service: Any) -> None:
        self.service = service  # RecordService

    def run(
        self,
        session: Session,
        context: RequestContext,
        object_name: str,
        stream: IO[str],
        *,
        preset: str | None = None,
        mapping: dict[str, str] | None = None,
        mode: Literal["all_or_nothing", "skip_bad_rows"] = "all_or_nothing",
        upsert_on: str | None = None,
        progress: Callable[[int], None] | None = None,
        exact_mapping: bool = False,
        batch_size: int = BATCH_SIZE,
    ) -> ImportReport:
        """Import ``stream`` inside ``session``. The caller commits or rolls back according to
        the report (``committed`` tells whether anything should be kept)."""
        compiled = self.service.registry(session).get(object_name)
        reader = csv.DictReader(stream)
        headers = list(reader.fieldnames or [])
        if not headers:
            raise MalformedRequest("the CSV file is empty (no header row)")
        duplicates = sorted({h for h in headers if headers.count(h) > 1})
        if duplicates:
            raise MalformedRequest(f"duplicate column headers: {', '.join(duplicates)}")
        resolved, ignored = resolve_mapping(
            headers, compiled, preset=preset, explicit=mapping or {}, exact=exact_mapping
        )
        report = ImportReport(object=object_name, mapping=resolved, ignored_columns=ignored)
        column_of = {target: column for column, target in resolved.items()}
        translations = preset_values(preset, resolved)
        translated: dict[tuple[str, str], int] = {}  # (column, source value) → rows
        batch: list[tuple[int, dict[str, Any]]] = []
        operation = "upsert" if upsert_on else "create"

        def flush() -> None:
            if batch:
                self._write_batch(
                    session,
                    context,
                    compiled,
                    batch,
                    operation,
                    upsert_on or "id",
                    mode,
                    report,
                    column_of,
                )
                if progress:
                    progress(len(batch))
                batch.clear()

        try:
            for row in reader:
                line = reader.line_num
                if None in row:
                    report.errors.append(
                        RowError(
                            line, "", "", "extra_cells", "the row has more cells than the header"
                        )
                    )
                    report.rows += 1
                    if mode == "skip_bad_rows":
                        report.skipped += 1
                    continue
                item: dict[str, Any] = {}
                for column, target in resolved.items():
                    raw = row.get(column) or ""
                    if target == "id":
                        if raw.strip():
                            item["id"] = raw.strip()
                        continue
                    translate = translations.get(column)
                    value = convert_cell(compiled.fields[target], raw, translate)
                    if translate is not None and _translated(raw, value, translate):
                        source = unescape_formula(raw).strip()
                        translated[(column, source)] = translated.get((column, source), 0) + 1
                    if value is not None:
                        item[target] = value
                batch.append((line, item))
                report.rows += 1
                if len(batch) >= batch_size:
                    flush()
            flush()
        except csv.Error as error:
            raise MalformedRequest(
                f"line {reader.line_num}: the file is not valid CSV ({error})"
            ) from None
        report.translated = [
            {
                "column": column,
                "field": resolved[column],
                "value": source,
                "to": translations[column][value_key(source)],
                "rows": rows,
            }
            for (column, source), rows in translated.items()
        ]
        report.committed = mode == "skip_bad_rows" or not report.errors
        if report.committed and report.created + report.updated >= 10_000:
            # Large loads change value distributions; stale statistics make the planner
            # pick the wrong index for filtered, sorted lists.
            refresh_statistics(session.connection())
        return report

    def _write_batch(
        self,
        session: Session,
        context: RequestContext,
        compiled: CompiledObject,
        batch: list[tuple[int, dict[str, Any]]],
        operation: str,
        match_on: str,
        mode: str,
        report: ImportReport,
        column_of: dict[str, str],
    ) -> None:
        pending = list(batch)
        while pending:
            # A savepoint per attempt: a failed batch leaves no partial rows behind.
            savepoint = session.begin_nested()
            try:
                written = self.service.bulk(
                    session,
                    context,
                    compiled.name,
                    operation,
                    [item for _, item in pending],
                    match_on=match_on,
                    present_results=False,
                )
            except KindredError as error:
                savepoint.rollback()
                bad = self._record_errors(error, pending, report, column_of)
                if mode != "skip_bad_rows" or not bad:
                    if not bad:
                        raise
                    return
                report.skipped += len(bad)
                pending = [entry for position, entry in enumerate(pending) if position not in bad]
                continue
            savepoint.commit()
            for record in written:
                report.record_ids.append(str(record["id"]))
                if record["version"] == 1:
                    report.created += 1
                else:
                    report.updated += 1
            return

    @staticmethod
    def _record_errors(
        error: KindredError,
        pending: list[tuple[int, dict[str, Any]]],
        report: ImportReport,
        column_of: dict[str, str],
    ) -> set[int]:
        bad: set[int] = set()
        for item in error.errors:
            parts = str(item.get("path", "")).split("/")
            # Paths look like /records/<position>/<field> (or /<field> for one record).
            if len(parts) >= 3 and parts[1] == "records" and parts[2].isdigit():
                position = int(parts[2])
                field_name = parts[3] if len(parts) > 3 else ""
            elif len(pending) == 1:
                position, field_name = 0, parts[1] if len(parts) > 1 else ""
            else:
                continue
            if position >= len(pending):
                continue
            bad.add(position)
            report.errors.append(
                RowError(
                    line=pending[position][0],
                    column=column_of.get(field_name, ""),
                    field=field_name,
                    code=str(item.get("code", "invalid")),
                    message=str(item.get("message", error.detail)),
                )
            )
        return bad


def import_summary(report: ImportReport, mode: str) -> list[str]:
    """What an import did — for a dry run, what it would do — and why, as plain lines: the
    columns imported and those left out, the values a preset translated, then the outcome.
    A dry run's report must come from a run that imported every good row (``skip_bad_rows``,
    rolled back): it tells what either mode would do with the file."""
    lines = ["columns: " + ", ".join(f"{c} → {f}" for c, f in report.mapping.items())]
    if report.ignored_columns:
        lines.append(
            "not imported (no field takes them; --map 'Column=field' imports one): "
            + ", ".join(report.ignored_columns)
        )
    for item in report.translated:
        to = item["to"] if item["to"] is not None else "empty (no counterpart: the default)"
        rows = f"{item['rows']:,} row" + ("s" if item["rows"] != 1 else "")
        lines.append(f"translated: {item['column']} '{item['value']}' → {to} ({rows})")
    counts = (
        f"{report.created:,} created, {report.updated:,} updated, {report.skipped:,} skipped "
        f"of {report.rows:,} rows"
    )
    bad = sorted({e.line for e in report.errors})
    shown = [f"line {e.line} {e.column or e.field}: {e.message}" for e in report.errors[:3]]
    why = "; ".join(shown) + (
        f"; and {len(report.errors) - 3} more" if len(report.errors) > 3 else ""
    )
    good = report.created + report.updated
    if report.dry_run:
        if not bad:
            lines.append(f"would import: {counts}")
        elif mode == "skip_bad_rows":
            lines.append(f"would import: {counts}; {len(bad):,} row(s) would be refused: {why}")
        else:
            lines.append(
                f"would import nothing of {report.rows:,} rows: {len(bad):,} row(s) would be "
                f"refused ({why}), and one bad row stops the whole file; with --skip-bad-rows "
                f"the other {good:,} would be imported ({report.created:,} created, "
                f"{report.updated:,} updated)"
            )
    elif report.committed:
        refused = f"; {len(bad):,} row(s) refused: {why}" if bad else ""
        lines.append(f"imported: {counts}{refused}")
    else:
        lines.append(f"imported nothing: {len(bad):,} of {report.rows:,} rows refused ({why})")
    return lines


def write_error_rows(
    report: ImportReport, headers: list[str], rows: dict[int, list[str]], out: IO[str]
) -> None:
    """The bad rows themselves as CSV, to fix and import again: their line in the file, every
    error of the row ("field: message", one per line of the cell), then the row's own cells.
    Every cell is defused like an export's (the values came from the uploaded file)."""
    messages: dict[int, list[str]] = {}
    for error in report.errors:
        where = error.column or error.field
        messages.setdefault(error.line, []).append(
            f"{where}: {error.message}" if where else error.message
        )
    writer = csv_writer(out)
    writer.writerow(["line", "errors", *(escape_formula(h) for h in headers)])
    for line in sorted(messages):
        cells = rows.get(line, [])
        writer.writerow(
            [line, escape_formula("\n".join(messages[line])), *(escape_formula(c) for c in cells)]
        )


def write_error_report(report: ImportReport, path: Path) -> None:
    """The per-row errors as CSV; column names and messages come from the imported file, so
    its cells are defused like an export's."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv_writer(handle)
        writer.writerow(["line", "column", "field", "code", "message"])
        for error in report.errors:
            writer.writerow(
                [
                    error.line,
                    *(
                        escape_formula(text)
                        for text in (error.column, error.field, error.code, error.message)
                    ),
                ]
            )


# -- export ------------------------------------------------------------------------------------


def iterate_records(
    service: Any,
    session: Session,
    context: RequestContext,
    object_name: str,
    *,
    where: str | None = None,
    page_size: int = 1000,
) -> Iterator[dict[str, Any]]:
    """Every record the principal may see, in id order, through the permission-checked list."""
    cursor: str | None = None
    while True:
        page = service.list_records(
            session,
            context,
            object_name,
            ListQuery(where=where, limit=page_size, cursor=cursor),
        )
        yield from page.data
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


def export_columns(
    service: Any, session: Session, context: RequestContext, object_name: str
) -> list[str]:
    compiled = service.registry(session).get(object_name)
    permission = context.principal.permission(object_name)
    fields = [f.name for f in compiled.definition.fields if permission.can_read_field(f.name)]
    return ["id", *fields, "version", "created_at", "updated_at"]


def csv_writer(out: IO[str]) -> Any:
    # Every cell quoted, quotes inside doubled (OWASP): a separator or quote inside a value
    # stays inside its cell instead of starting a new one that begins with a formula.
    return csv.writer(out, quoting=csv.QUOTE_ALL)


def csv_cell(value: Any) -> str:
    """One value as a defused spreadsheet cell (see the module docstring)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)  # a number, never a formula: no escape, so it stays a number
    if isinstance(value, list):
        return escape_formula(";".join(str(v) for v in value))
    if isinstance(value, dict):
        return orjson.dumps(value).decode()
    return escape_formula(str(value))


def export_records(
    service: Any,
    session: Session,
    context: RequestContext,
    object_name: str,
    out: IO[str],
    *,
    format: Literal["csv", "jsonl"] = "csv",
    where: str | None = None,
    progress: Callable[[int], None] | None = None,
    on_withheld: Callable[[int], None] | None = None,
) -> int:
    """Write the records; ``on_withheld`` hears how many values of each record a read hook
    (the consent check) withheld."""
    columns = export_columns(service, session, context, object_name)
    writer = csv_writer(out) if format == "csv" else None
    if writer is not None:
        writer.writerow(columns)
    count = 0
    for record in iterate_records(service, session, context, object_name, where=where):
        if on_withheld is not None and record.get("meta", {}).get("withheld"):
            on_withheld(len(record["meta"]["withheld"]))
        if writer is not None:
            # A field withheld by a read hook exports as empty, never as stale data.
            writer.writerow([csv_cell(record.get(c)) for c in columns])
        else:
            out.write(orjson.dumps(record).decode() + "\n")
        count += 1
        if progress and count % 1000 == 0:
            progress(1000)
    if progress:
        progress(count % 1000)
    return count


def read_text(path: Path) -> io.TextIOWrapper:
    # utf-8-sig: Excel and HubSpot write a byte-order mark that would corrupt the first header.
    return path.open("r", encoding="utf-8-sig", newline="")
