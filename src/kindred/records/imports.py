"""Import jobs: a CSV uploaded through the API, previewed, dry-run and imported in the
background while the console polls its progress.

A job belongs to the user who uploaded it and runs with their permissions (field write rules,
territories, the ``create`` action): it goes through ``transfer.Importer`` and so through the
record service's bulk path, exactly like ``kindred import --as``. A dry run imports inside a
transaction that is always rolled back, so everything is validated (types, required fields,
relations, CEL rules, uniqueness across the file and the database) and nothing is written.

Jobs live in the memory of the process that took the upload (the file included, at most
``MAX_BYTES``), for ``JOB_TTL_SECONDS``: the console polls the process it uploaded to. Several
worker processes behind a balancer without session affinity would need the jobs in a table.
"""

from __future__ import annotations

import csv
import io
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any, Literal

from kindred.errors import (
    Conflict,
    KindredError,
    MalformedRequest,
    NotFound,
    PermissionDenied,
    ValidationFailed,
    field_error,
)
from kindred.records.fields import FieldValueError
from kindred.records.metadata import CompiledObject
from kindred.records.service import RequestContext
from kindred.records.transfer import (
    PRESETS,
    Importer,
    ImportReport,
    convert_cell,
    preset_map,
    resolve_mapping,
    suggest_columns,
    write_error_rows,
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


class ImportJobs:
    """The jobs of this process, by id; each visible to its owner only."""

    def __init__(self, kindred: Any) -> None:
        self.kindred = kindred
        self._jobs: dict[str, ImportJob] = {}
        self._lock = threading.Lock()

    # -- upload and lookup -----------------------------------------------------------------

    def upload(
        self, context: RequestContext, filename: str, body: bytes, encoding: str | None
    ) -> ImportJob:
        self._require_some_create(context)
        text = decode_upload(body, encoding)
        headers, rows = read_table(text)
        job = ImportJob(
            id=str(uuid.uuid4()),
            owner_id=context.principal.user_id,
            filename=filename[:200] or "upload.csv",
            text=text,
            headers=headers,
            rows=len(rows),
            created_at=time.time(),
        )
        with self._lock:
            self._expire()
            mine = sorted(
                (j for j in self._jobs.values() if j.owner_id == job.owner_id),
                key=lambda j: j.created_at,
            )
            for old in mine[: max(0, len(mine) - MAX_JOBS_PER_USER + 1)]:
                if old.state != "running":
                    del self._jobs[old.id]
            self._jobs[job.id] = job
        return job

    def get(self, context: RequestContext, job_id: str) -> ImportJob:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None or job.owner_id != context.principal.user_id:
            raise NotFound(f"no import '{job_id}' (imports are kept for an hour)")
        return job

    # -- preview, dry run, import ------------------------------------------------------------

    def preview(
        self, context: RequestContext, job: ImportJob, choice: ImportChoice, limit: int
    ) -> dict[str, Any]:
        object_name = choice.object_name()
        with self.kindred.database.read() as session:
            compiled = self.kindred.records.registry(session).get(object_name)
        self._require_create(context, object_name)
        permission = context.principal.permission(object_name)
        suggestions = suggest_columns(job.headers, compiled, preset=choice.preset)
        mapping, _ = self._resolve(context, job, compiled, choice)
        columns = []
        for column, target, why in suggestions:
            chosen = mapping.get(column)
            if chosen is None:
                source = None
            elif chosen == target:
                source = why
            else:
                source = "explicit"
            columns.append(
                {"column": column, "field": chosen, "suggested": target, "source": source}
            )
        headers, rows = read_table(job.text)
        preview_rows = []
        for line, cells in list(rows.items())[:limit]:
            values = dict(zip(headers, cells, strict=False))
            preview_rows.append(
                {
                    "line": line,
                    "cells": [
                        self._cell(compiled, column, mapping.get(column), values.get(column, ""))
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

    def dry_run(
        self, context: RequestContext, job: ImportJob, choice: ImportChoice
    ) -> ImportReport:
        """Import inside a transaction that is rolled back: every check, nothing written."""
        object_name = choice.object_name()
        self._require_create(context, object_name)
        if job.state == "running":
            raise Conflict("this file is being imported; wait for it to finish")
        report = self._import(context, job, choice, object_name, dry_run=True)
        job.report = report
        job.object, job.preset, job.mode = object_name, choice.preset, choice.mode
        return report

    def start(self, context: RequestContext, job: ImportJob, choice: ImportChoice) -> ImportJob:
        object_name = choice.object_name()
        self._require_create(context, object_name)
        with self.kindred.database.read() as session:
            compiled = self.kindred.records.registry(session).get(object_name)
        self._resolve(context, job, compiled, choice)  # a bad mapping is refused now, not later
        with self._lock:
            if job.state in ("running", "done"):
                raise Conflict(f"this file was imported already (the import is {job.state})")
            job.state = "running"
            job.rows_done = 0
            job.report = None
            job.failure = None
            job.object, job.preset, job.mode = object_name, choice.preset, choice.mode
        thread = threading.Thread(
            target=self._run, args=(context, job, choice, object_name), daemon=True
        )
        thread.start()
        return job

    def error_rows(self, job: ImportJob) -> str:
        if job.report is None:
            raise NotFound("there are no error rows yet: dry-run or import the file first")
        headers, rows = read_table(job.text)
        out = io.StringIO()
        write_error_rows(job.report, headers, rows, out)
        return out.getvalue()

    # -- internals ---------------------------------------------------------------------------

    def _run(
        self, context: RequestContext, job: ImportJob, choice: ImportChoice, object_name: str
    ) -> None:
        try:
            job.report = self._import(context, job, choice, object_name, dry_run=False)
            job.state = "done"
        except KindredError as error:
            job.failure = error.to_problem()
            job.state = "failed"
        except Exception as error:  # a bug: say so without the data it may carry
            job.failure = {
                "type": "https://kindred.dev/problems/internal-error",
                "title": "Internal error",
                "status": 500,
                "detail": f"the import stopped unexpectedly ({type(error).__name__})",
            }
            job.state = "failed"
        finally:
            job.finished_at = time.time()

    def _import(
        self,
        context: RequestContext,
        job: ImportJob,
        choice: ImportChoice,
        object_name: str,
        *,
        dry_run: bool,
    ) -> ImportReport:
        importer = Importer(self.kindred.records)
        explicit = choice.mapping
        batch = max(20, min(500, job.rows // 20 or 1))

        def advance(count: int) -> None:
            if not dry_run:
                job.rows_done = min(job.rows, job.rows_done + count)

        with self.kindred.database.read() as session:
            compiled = self.kindred.records.registry(session).get(object_name)
        self._resolve(context, job, compiled, choice)
        try:
            with self.kindred.database.write() as session:
                report = importer.run(
                    session,
                    context,
                    object_name,
                    io.StringIO(job.text, newline=""),
                    preset=choice.preset,
                    mapping=explicit,
                    mode="skip_bad_rows" if dry_run else choice.mode,
                    progress=advance,
                    exact_mapping=explicit is not None,
                    batch_size=batch,
                )
                if dry_run or not report.committed:
                    raise _Rollback(report)
        except _Rollback as rollback:
            report = rollback.report
            report.committed = False
            if dry_run:
                report.record_ids = []
        report.dry_run = dry_run
        if not dry_run:
            job.rows_done = job.rows
        return report

    def _resolve(
        self,
        context: RequestContext,
        job: ImportJob,
        compiled: CompiledObject,
        choice: ImportChoice,
    ) -> tuple[dict[str, str], list[str]]:
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

    @staticmethod
    def _cell(
        compiled: CompiledObject, column: str, target: str | None, raw: str
    ) -> dict[str, Any]:
        cell: dict[str, Any] = {"column": column, "raw": raw, "value": None, "error": None}
        if target is None or target == "id":
            cell["value"] = raw if target == "id" and raw else None
            return cell
        definition = compiled.fields[target]
        value = convert_cell(definition, raw)
        if value is None:
            return cell
        try:
            cell["value"] = compiled.checkers[target](value)
        except FieldValueError as error:
            cell["value"] = value
            cell["error"] = error.message
        return cell

    def _expire(self) -> None:
        cutoff = time.time() - JOB_TTL_SECONDS
        for job_id, job in list(self._jobs.items()):
            if job.state != "running" and job.created_at < cutoff:
                del self._jobs[job_id]

    @staticmethod
    def _require_create(context: RequestContext, object_name: str) -> None:
        if not context.principal.permission(object_name).can("create"):
            raise PermissionDenied(f"your roles do not allow creating {object_name} records")

    def _require_some_create(self, context: RequestContext) -> None:
        with self.kindred.database.read() as session:
            names = list(self.kindred.records.registry(session).objects)
        if not any(context.principal.permission(n).can("create") for n in names):
            raise PermissionDenied("your roles do not allow creating records of any object")


class _Rollback(Exception):
    def __init__(self, report: ImportReport) -> None:
        super().__init__("rollback")
        self.report = report


def jobs_of(kindred: Any) -> ImportJobs:
    """The process's import jobs (kept with the services)."""
    jobs = kindred.extras.get("import_jobs")
    if jobs is None:
        jobs = kindred.extras.setdefault("import_jobs", ImportJobs(kindred))
    assert isinstance(jobs, ImportJobs)
    return jobs
