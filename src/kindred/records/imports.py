"""Import jobs: a CSV uploaded through the API, previewed, dry-run and imported in the
background while the console polls its progress.

A job belongs to the user who uploaded it and runs with their permissions (field write rules,
territories, the ``create`` action): it goes through ``transfer.Importer`` and so through the
record service's bulk path, exactly like ``kindred import --as``. A dry run imports inside a
transaction that is always rolled back, so everything is validated (types, required fields,
relations, CEL rules, uniqueness across the file and the database) and nothing is written.

This module holds what an import job is and the steps' checks (reading the file, the
mapping, the preview); the jobs themselves — uploads of at most ``MAX_BYTES``, kept for
``JOB_TTL_SECONDS`` — are rows of a table every worker process shares
(``kindred.records.import_jobs``).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any, Literal

from kindred.errors import (
    KindredError,
    MalformedRequest,
    PermissionDenied,
    ValidationFailed,
    field_error,
)
from kindred.records.fields import FieldValueError
from kindred.records.metadata import CompiledObject
from kindred.records.service import RequestContext
from kindred.records.transfer import (
    PRESETS,
    ImportReport,
    convert_cell,
    preset_map,
    preset_values,
    resolve_mapping,
    suggest_columns,
)

MAX_BYTES = 5 * 1024 * 1024
JOB_TTL_SECONDS = 3600
MAX_JOBS_PER_USER = 20
PREVIEW_ROWS = 10
ENCODINGS = {"utf-8": "utf-8-sig", "gb18030": "gb18030"}
# Uploads that are obviously something else, by their first bytes.
_SIGNATURES = {
    b"PK\x03\x04": "an Excel workbook or another zip file; save it as CSV (UTF-8) first",
    b"\xd0\xcf\x11\xe0": "an old Excel workbook; save it as CSV (UTF-8) first",
    b"%PDF": "a PDF document",
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
}
Mode = Literal["all_or_nothing", "skip_bad_rows"]
State = Literal["uploaded", "running", "done", "failed"]


@dataclass
class ImportChoice:
    """What the user chose: the object (or a preset's), the preset, the column mapping."""

    object: str | None = None
    preset: str | None = None
    # column → field, "" to leave a column out; None: the suggested mapping.
    mapping: dict[str, str] | None = None
    mode: Mode = "skip_bad_rows"

    def object_name(self) -> str:
        if self.preset:
            if self.preset not in PRESETS:
                raise MalformedRequest(
                    f"unknown preset '{self.preset}'; choose from {sorted(PRESETS)}",
                    errors=[field_error("/preset", "unknown_preset", "unknown preset")],
                )
            preset_object = PRESETS[self.preset][0]
            if self.object and self.object != preset_object:
                raise MalformedRequest(
                    f"preset '{self.preset}' imports {preset_object} records, not {self.object}",
                    errors=[field_error("/object", "preset_mismatch", "not the preset's object")],
                )
            return preset_object
        if not self.object:
            raise ValidationFailed(
                "choose the object to import into or a preset",
                errors=[field_error("/object", "required", "choose an object or a preset")],
            )
        return self.object


@dataclass
class ImportJob:
    id: str
    owner_id: str
    filename: str
    text: str
    headers: list[str]
    rows: int
    created_at: float
    state: State = "uploaded"
    object: str | None = None
    preset: str | None = None
    mode: Mode = "skip_bad_rows"
    rows_done: int = 0
    report: ImportReport | None = None
    # The last report was a dry run's (the error rows download serves the latest report).
    failure: dict[str, Any] | None = None
    finished_at: float | None = None

    def status(self) -> dict[str, Any]:
        report = self.report
        return {
            "id": self.id,
            "filename": self.filename,
            "state": self.state,
            "object": self.object,
            "preset": self.preset,
            "mode": self.mode,
            "headers": self.headers,
            "rows_total": self.rows,
            "rows_done": self.rows_done,
            "report": present_report(report) if report is not None else None,
            "failure": self.failure,
        }


def present_report(report: ImportReport) -> dict[str, Any]:
    body = report.to_dict()
    body["error_rows"] = len({e.line for e in report.errors})
    body["record_ids"] = report.record_ids[:100]
    return body


def decode_upload(body: bytes, encoding: str | None) -> str:
    """The uploaded bytes as text, or a problem saying what the file is instead."""
    if not body.strip():
        raise MalformedRequest(
            "the file is empty", errors=[field_error("/file", "empty", "the file is empty")]
        )
    if len(body) > MAX_BYTES:
        raise PayloadTooLarge(
            f"CSV files are limited to {MAX_BYTES // (1024 * 1024)} MB "
            f"(this one has {len(body):,} bytes); split it into smaller files"
        )
    for signature, what in _SIGNATURES.items():
        if body.startswith(signature):
            raise MalformedRequest(
                f"the file is not CSV: it is {what}",
                errors=[field_error("/file", "not_csv", f"this is {what}")],
            )
    codec = ENCODINGS.get((encoding or "utf-8").lower())
    if codec is None:
        raise MalformedRequest(
            f"unknown encoding '{encoding}'; choose from {sorted(ENCODINGS)}",
            errors=[field_error("/encoding", "unknown_encoding", "utf-8 or gb18030")],
        )
    try:
        text = body.decode(codec)
    except UnicodeDecodeError as error:
        raise MalformedRequest(
            f"the file is not {encoding or 'utf-8'} text (byte {error.start + 1} cannot be "
            "read); save it as 'CSV UTF-8', or send encoding=gb18030 for a file from Chinese "
            "Excel",
            errors=[field_error("/encoding", "encoding", "the file is in another encoding")],
        ) from None
    if "\x00" in text:
        raise MalformedRequest(
            "the file is not CSV: it holds binary data (NUL characters)",
            errors=[field_error("/file", "not_csv", "binary data")],
        )
    return text


class PayloadTooLarge(KindredError):
    status = 413
    problem = "payload-too-large"
    title = "Payload too large"


def read_table(text: str) -> tuple[list[str], dict[int, list[str]]]:
    """Headers and every row (by its line in the file, as the importer numbers them)."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows: dict[int, list[str]] = {}
    try:
        headers = next(reader, [])
        for row in reader:
            if any(cell != "" for cell in row):
                rows[reader.line_num] = row
    except csv.Error as error:
        raise MalformedRequest(
            f"line {reader.line_num}: the file is not valid CSV ({error})",
            errors=[field_error("/file", "not_csv", f"line {reader.line_num}: {error}")],
        ) from None
    if not [h for h in headers if h.strip()]:
        raise MalformedRequest(
            "the file has no header row",
            errors=[field_error("/file", "no_header", "the first line must name the columns")],
        )
    duplicates = sorted({h for h in headers if headers.count(h) > 1})
    if duplicates:
        raise MalformedRequest(
            f"duplicate column headers: {', '.join(duplicates)}",
            errors=[field_error("/file", "duplicate_headers", ", ".join(duplicates))],
        )
    return headers, rows


def suggested_presets(headers: list[str]) -> list[str]:
    """Presets whose columns the file has (at least two), best match first."""
    scores = {name: len(set(headers) & set(columns)) for name, (_, columns) in PRESETS.items()}
    return [name for name, score in sorted(scores.items(), key=lambda kv: -kv[1]) if score >= 2]


def table_preview(
    kindred: Any, context: RequestContext, job: ImportJob, choice: ImportChoice, limit: int
) -> dict[str, Any]:
    """The column mapping (suggested, preset or explicit), the fields the user may write
    and the first ``limit`` rows converted, each cell with its error."""
    object_name = choice.object_name()
    with kindred.database.read() as session:
        compiled = kindred.records.registry(session).get(object_name)
    require_create(context, object_name)
    permission = context.principal.permission(object_name)
    suggestions = suggest_columns(job.headers, compiled, preset=choice.preset)
    mapping, _ = resolve_choice(context, job, compiled, choice)
    columns = []
    for column, target, why in suggestions:
        chosen = mapping.get(column)
        if chosen is None:
            source = None
        elif chosen == target:
            source = why
        else:
            source = "explicit"
        columns.append({"column": column, "field": chosen, "suggested": target, "source": source})
    headers, rows = read_table(job.text)
    translations = preset_values(choice.preset, mapping)
    preview_rows = []
    for line, cells in list(rows.items())[:limit]:
        values = dict(zip(headers, cells, strict=False))
        preview_rows.append(
            {
                "line": line,
                "cells": [
                    preview_cell(
                        compiled,
                        column,
                        mapping.get(column),
                        values.get(column, ""),
                        translations.get(column),
                    )
                    for column in headers
                ],
            }
        )
    mapped = set(mapping.values())
    fields = [
        {
            "name": f.name,
            "label": f.label,
            "label_zh": f.label_zh,
            "type": f.type.value,
            "required": f.required,
        }
        for f in compiled.definition.fields
        if permission.can_write_field(f.name)
    ]
    missing = [
        f.name
        for f in compiled.definition.fields
        if f.required and f.default is None and f.name not in mapped
    ]
    return {
        "id": job.id,
        "object": object_name,
        "preset": choice.preset,
        "rows_total": job.rows,
        "columns": columns,
        "fields": fields,
        "missing_required": missing,
        "rows": preview_rows,
    }


def resolve_choice(
    context: RequestContext, job: ImportJob, compiled: CompiledObject, choice: ImportChoice
) -> tuple[dict[str, str], list[str]]:
    """The column → field mapping the choice makes, refused if the user may not write a
    mapped field; and the columns left out."""
    preset_map(choice.preset, compiled)
    mapping, ignored = resolve_mapping(
        job.headers,
        compiled,
        preset=choice.preset,
        explicit=choice.mapping or {},
        exact=choice.mapping is not None,
    )
    permission = context.principal.permission(compiled.name)
    refused = [
        field_error(
            f"/mapping/{column}",
            "not_writable",
            f"your role may not write '{compiled.name}.{target}'",
        )
        for column, target in mapping.items()
        if target != "id" and not permission.can_write_field(target)
    ]
    if refused:
        raise ValidationFailed("the column mapping is invalid", errors=refused)
    return mapping, ignored


def preview_cell(
    compiled: CompiledObject,
    column: str,
    target: str | None,
    raw: str,
    translate: dict[str, str | None] | None = None,
) -> dict[str, Any]:
    cell: dict[str, Any] = {"column": column, "raw": raw, "value": None, "error": None}
    if target is None or target == "id":
        cell["value"] = raw if target == "id" and raw else None
        return cell
    definition = compiled.fields[target]
    value = convert_cell(definition, raw, translate)
    if value is None:
        return cell
    try:
        cell["value"] = compiled.checkers[target](value)
    except FieldValueError as error:
        cell["value"] = value
        cell["error"] = error.message
    return cell


def require_create(context: RequestContext, object_name: str) -> None:
    if not context.principal.permission(object_name).can("create"):
        raise PermissionDenied(f"your roles do not allow creating {object_name} records")


def require_some_create(kindred: Any, context: RequestContext) -> None:
    with kindred.database.read() as session:
        names = list(kindred.records.registry(session).objects)
    if not any(context.principal.permission(n).can("create") for n in names):
        raise PermissionDenied("your roles do not allow creating records of any object")


class Rollback(Exception):
    """Carries an import's report out of a transaction that must not commit."""

    def __init__(self, report: ImportReport) -> None:
        super().__init__("rollback")
        self.report = report
