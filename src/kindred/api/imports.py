"""CSV import through the API: upload a file, preview its column mapping, dry-run it, import
it as a job whose progress the console polls, and download the rows that failed.

Every step runs as the uploading user (``records/imports.py``): a user who may not create the
object is refused before anything is read or written, and the record service applies their
field write rules to every row.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from kindred.api.deps import ContextDep, KindredDep
from kindred.api.responses import Json
from kindred.records.import_jobs.service import jobs_of
from kindred.records.imports import (
    MAX_BYTES,
    PREVIEW_ROWS,
    ImportChoice,
    ImportJob,
    present_report,
    suggested_presets,
)
from kindred.records.transfer import PRESETS

router = APIRouter(prefix="/api/v1/imports", tags=["imports"])

# -- request and response bodies ----------------------------------------------------------------


class ImportChoiceRequest(BaseModel):
    """What to import the file as."""

    model_config = ConfigDict(extra="forbid")

    object: str | None = Field(
        default=None, description="The object to import into (a preset brings its own)"
    )
    preset: str | None = Field(
        default=None, description="A column preset, e.g. hubspot-contacts (GET …/presets)"
    )
    mapping: dict[str, str] | None = Field(
        default=None,
        description='CSV column → field; "" leaves a column out. Given, it is the whole '
        "mapping; left out, the preset's and the columns named like fields or their labels",
    )
    mode: Literal["skip_bad_rows", "all_or_nothing"] = Field(
        default="skip_bad_rows",
        description="skip_bad_rows: import the good rows and report the bad ones; "
        "all_or_nothing: write nothing when any row is bad",
    )

    def choice(self) -> ImportChoice:
        return ImportChoice(
            object=self.object, preset=self.preset, mapping=self.mapping, mode=self.mode
        )


class ImportPreviewRequest(ImportChoiceRequest):
    limit: int = Field(default=PREVIEW_ROWS, ge=1, le=100, description="Rows to convert")


class ImportRowError(BaseModel):
    model_config = ConfigDict(extra="forbid")

    line: int = Field(description="Line in the file (the header is line 1)")
    column: str = Field(description='The CSV column, "" when the error is the row\'s')
    field: str = Field(description='The field, "" when the error is the row\'s')
    code: str
    message: str


class ImportTranslation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    column: str = Field(description="The CSV column")
    field: str = Field(description="The field it feeds")
    value: str = Field(description="The value in the file, e.g. HubSpot's 'Evangelist'")
    to: str | None = Field(description="The value imported; null: left empty (no counterpart)")
    rows: int = Field(description="Rows with this value")


class ImportReportPublic(BaseModel):
    """What an import (or a dry run) did, row by row."""

    model_config = ConfigDict(extra="forbid")

    object: str
    rows: int = Field(description="Data rows read")
    created: int
    updated: int
    skipped: int = Field(description="Bad rows left out (skip_bad_rows)")
    dry_run: bool
    committed: bool = Field(description="Whether anything was written")
    mapping: dict[str, str] = Field(description="CSV column → field, as applied")
    ignored_columns: list[str] = Field(description="Columns no field takes: not imported")
    translated: list[ImportTranslation] = Field(
        description="Source values the preset turned into another choice (or left empty)"
    )
    errors: list[ImportRowError]
    error_rows: int = Field(description="How many rows have at least one error")
    record_ids: list[str] = Field(description="The first 100 records written")


class ImportProblem(BaseModel):
    """Why a background import stopped (an RFC 9457 problem)."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str


class ImportJobPublic(BaseModel):
    """An uploaded file and its import."""

    model_config = ConfigDict(extra="forbid")

    id: str
    filename: str
    state: Literal["uploaded", "running", "done", "failed"]
    object: str | None = Field(description="Set once a dry run or the import chose it")
    preset: str | None
    mode: Literal["skip_bad_rows", "all_or_nothing"]
    headers: list[str]
    rows_total: int = Field(description="Data rows in the file")
    rows_done: int = Field(description="Rows imported so far (progress)")
    report: ImportReportPublic | None = Field(description="The latest dry run's or import's")
    failure: ImportProblem | None = Field(description="Why the import failed (state failed)")


class ImportUploadPublic(ImportJobPublic):
    suggested_presets: list[str] = Field(description="Presets whose columns the file has")


class ImportPresetPublic(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    object: str
    columns: dict[str, str] = Field(description="CSV column → field")


class ImportPresetList(BaseModel):
    model_config = ConfigDict(extra="forbid")

    data: list[ImportPresetPublic]


class ImportColumnPublic(BaseModel):
    model_config = ConfigDict(extra="forbid")

    column: str
    field: str | None = Field(description="The field it feeds; null: left out")
    suggested: str | None = Field(description="What the preset or the names suggest")
    source: Literal["explicit", "preset", "name", "label"] | None


class ImportCellPublic(BaseModel):
    model_config = ConfigDict(extra="forbid")

    column: str
    raw: str = Field(description="The cell as in the file")
    value: Any = Field(description="The value it converts to (null: empty or not mapped)")
    error: str | None = Field(description="Why the value is not valid for the field")


class ImportPreviewRow(BaseModel):
    model_config = ConfigDict(extra="forbid")

    line: int
    cells: list[ImportCellPublic]


class ImportFieldPublic(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    label: str | None
    label_zh: str | None
    type: str
    required: bool


class ImportPreviewPublic(BaseModel):
    """The mapping and the first rows converted, cell by cell."""

    model_config = ConfigDict(extra="forbid")

    id: str
    object: str
    preset: str | None
    rows_total: int
    columns: list[ImportColumnPublic]
    fields: list[ImportFieldPublic] = Field(description="The fields you may write")
    missing_required: list[str] = Field(description="Required fields no column feeds")
    rows: list[ImportPreviewRow]


class CsvResponse(Response):
    media_type = "text/csv"


# -- routes -------------------------------------------------------------------------------------


def _job(job: ImportJob) -> dict[str, Any]:
    return job.status()


@router.get(
    "/presets",
    summary="Column presets of the CRMs people import from",
    response_model=None,
    responses={200: {"model": ImportPresetList, "description": "Every preset"}},
)
async def list_presets(context: ContextDep) -> Json:
    return Json(
        {
            "data": [
                {"name": name, "object": target, "columns": columns}
                for name, (target, columns) in sorted(PRESETS.items())
            ]
        }
    )


@router.post(
    "",
    status_code=201,
    summary="Upload a CSV file to import",
    description=(
        f"The body is the file (`Content-Type: text/csv`), at most {MAX_BYTES // 2**20} MB, "
        "UTF-8 (a byte-order mark is fine) or, with `encoding=gb18030`, from Chinese Excel. "
        "You need permission to create records of some object."
    ),
    response_model=None,
    responses={
        201: {
            "model": ImportUploadPublic,
            "description": "The file, read: its columns, rows and the presets that fit",
            "headers": {
                "Location": {"description": "The import's URL", "schema": {"type": "string"}}
            },
        }
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"text/csv": {"schema": {"type": "string"}}},
        }
    },
)
async def upload(
    request: Request,
    kindred: KindredDep,
    context: ContextDep,
    filename: Annotated[str, Query(max_length=200, description="The file's name")] = "",
    encoding: Annotated[
        Literal["utf-8", "gb18030"], Query(description="The file's text encoding")
    ] = "utf-8",
) -> Json:
    body = await request.body()
    jobs = jobs_of(kindred)
    job = await asyncio.to_thread(jobs.upload, context, filename, body, encoding)
    return Json(
        {**_job(job), "suggested_presets": suggested_presets(job.headers)},
        status_code=201,
        headers={"Location": f"/api/v1/imports/{job.id}"},
    )


@router.get(
    "/{import_id}",
    summary="An import: its state, progress and report",
    response_model=None,
    responses={200: {"model": ImportJobPublic, "description": "The import"}},
)
async def get_import(import_id: str, kindred: KindredDep, context: ContextDep) -> Json:
    return Json(_job(jobs_of(kindred).get(context, import_id)))


@router.post(
    "/{import_id}/preview",
    summary="The column mapping and the first rows converted",
    response_model=None,
    responses={200: {"model": ImportPreviewPublic, "description": "The preview"}},
)
def preview(
    import_id: str, payload: ImportPreviewRequest, kindred: KindredDep, context: ContextDep
) -> Json:
    jobs = jobs_of(kindred)
    job = jobs.get(context, import_id)
    return Json(jobs.preview(context, job, payload.choice(), payload.limit))


@router.post(
    "/{import_id}/dry-run",
    summary="Validate every row, write nothing",
    response_model=None,
    responses={200: {"model": ImportReportPublic, "description": "What the import would do"}},
)
def dry_run(
    import_id: str, payload: ImportChoiceRequest, kindred: KindredDep, context: ContextDep
) -> Json:
    jobs = jobs_of(kindred)
    job = jobs.get(context, import_id)
    return Json(present_report(jobs.dry_run(context, job, payload.choice())))


@router.post(
    "/{import_id}/run",
    status_code=202,
    summary="Import the file (in the background; poll the import for progress)",
    response_model=None,
    responses={
        202: {
            "model": ImportJobPublic,
            "description": "The import, started",
            "headers": {"Location": {"description": "Where to poll", "schema": {"type": "string"}}},
        }
    },
)
def run_import(
    import_id: str, payload: ImportChoiceRequest, kindred: KindredDep, context: ContextDep
) -> Json:
    jobs = jobs_of(kindred)
    job = jobs.start(context, jobs.get(context, import_id), payload.choice())
    return Json(_job(job), status_code=202, headers={"Location": f"/api/v1/imports/{job.id}"})


@router.get(
    "/{import_id}/error-rows",
    summary="The rows that failed, with their errors, as CSV",
    description=(
        "The latest dry run's or import's bad rows: `line`, `errors` (\"column: message\", "
        "one a line), then the row's own cells, every cell defused against spreadsheet "
        "formulas (a leading `'`)."
    ),
    response_model=None,
    responses={200: {"description": "The bad rows (text/csv)"}},
)
def error_rows(import_id: str, kindred: KindredDep, context: ContextDep) -> CsvResponse:
    jobs = jobs_of(kindred)
    job = jobs.get(context, import_id)
    stem = job.filename.rsplit(".", 1)[0] or "import"
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in stem)[:80]
    return CsvResponse(
        jobs.error_rows(job).encode("utf-8-sig"),
        headers={"Content-Disposition": f'attachment; filename="{safe}-errors.csv"'},
    )
