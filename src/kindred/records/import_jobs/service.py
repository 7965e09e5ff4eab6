"""Import jobs in the ``import_jobs`` table, shared by every worker process.

A job belongs to the user who uploaded it and runs with their permissions (see
``kindred.records.imports``). The upload, the state, the latest report and the progress live
in the table, so a console polling through a balancer without session affinity sees the same
job from every worker. The import itself runs in a thread of the process that was asked to
start it; starting is one conditional update, so two workers asked at once cannot both run a
file. A runner that died (its process gone on this host, or — on another host — no heartbeat
for ``STALE_SECONDS``) leaves its job ``failed`` with a clear reason the next time anyone
reads it; nothing it imported was kept, as every import is one transaction.

Progress: the running process counts rows in memory and answers its own polls from there.
Where the database takes a second writer during the import's transaction (PostgreSQL), it also
writes the count and a heartbeat to the job's row at most every ``PROGRESS_SECONDS``; SQLite
has one writer at a time, and an SQLite database is served by processes of one host, which read
the count from the table when the import ends.
"""

from __future__ import annotations

import dataclasses
import io
import os
import socket
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from kindred.errors import Conflict, KindredError, NotFound
from kindred.records.import_jobs.models import ImportJobRow
from kindred.records.imports import (
    JOB_TTL_SECONDS,
    MAX_JOBS_PER_USER,
    ImportChoice,
    ImportJob,
    Rollback,
    decode_upload,
    read_table,
    require_create,
    require_some_create,
    resolve_choice,
    table_preview,
)
from kindred.records.service import RequestContext
from kindred.records.transfer import Importer, ImportReport, RowError, write_error_rows

STALE_SECONDS = 60.0
PROGRESS_SECONDS = 1.0
# This process, as runners are named: host, pid and a token that tells a reused pid apart.
RUNNER = f"{socket.gethostname()[:80]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


class ImportJobs:
    """Upload, preview, dry-run, import and report — every state kept in the table."""

    def __init__(self, kindred: Any) -> None:
        self.kindred = kindred
        self._progress: dict[str, int] = {}  # job id → rows done, for imports running here
        self._lock = threading.Lock()

    # -- upload and lookup -----------------------------------------------------------------

    def upload(
        self, context: RequestContext, filename: str, body: bytes, encoding: str | None
    ) -> ImportJob:
        require_some_create(self.kindred, context)
        text = decode_upload(body, encoding)
        headers, rows = read_table(text)
        owner = context.principal.user_id
        row = ImportJobRow(
            id=str(uuid.uuid4()),
            owner_id=owner,
            filename=filename[:200] or "upload.csv",
            text=text,
            headers=headers,
            rows=len(rows),
            state="uploaded",
            mode="skip_bad_rows",
            rows_done=0,
            created_at=datetime.now(UTC),
        )
        with self.kindred.database.write() as session:
            self._prune(session, owner)
            session.add(row)
            session.flush()
            return _job(row)

    def get(self, context: RequestContext, job_id: str) -> ImportJob:
        with self.kindred.database.read() as session:
            row = session.get(ImportJobRow, job_id)
            if row is None or row.owner_id != context.principal.user_id:
                raise NotFound(f"no import '{job_id}' (imports are kept for an hour)")
            job = _job(row)
            runner, heartbeat = row.runner, row.heartbeat_at
        if job.state == "running":
            with self._lock:
                done = self._progress.get(job.id)
            if done is not None:
                job.rows_done = done
            elif runner != RUNNER and _gone(runner, heartbeat):
                job = self._abandon(job.id) or job
        return job

    # -- preview, dry run, import ------------------------------------------------------------

    def preview(
        self, context: RequestContext, job: ImportJob, choice: ImportChoice, limit: int
    ) -> dict[str, Any]:
        return table_preview(self.kindred, context, job, choice, limit)

    def dry_run(
        self, context: RequestContext, job: ImportJob, choice: ImportChoice
    ) -> ImportReport:
        """Import inside a transaction that is rolled back: every check, nothing written."""
        object_name = choice.object_name()
        require_create(context, object_name)
        if job.state == "running":
            raise Conflict("this file is being imported; wait for it to finish")
        report = self._import(context, job, choice, object_name, dry_run=True)
        with self.kindred.database.write() as session:
            updated = session.execute(
                sa.update(ImportJobRow)
                .where(ImportJobRow.id == job.id, ImportJobRow.state != "running")
                .values(
                    report=_stored(report),
                    object=object_name,
                    preset=choice.preset,
                    mode=choice.mode,
                )
            ).rowcount
        if not updated:
            raise Conflict("this file is being imported; wait for it to finish")
        job.report = report
        job.object, job.preset, job.mode = object_name, choice.preset, choice.mode
        return report

    def start(self, context: RequestContext, job: ImportJob, choice: ImportChoice) -> ImportJob:
        object_name = choice.object_name()
        require_create(context, object_name)
        with self.kindred.database.read() as session:
            compiled = self.kindred.records.registry(session).get(object_name)
        resolve_choice(context, job, compiled, choice)  # a bad mapping is refused now
        with self.kindred.database.write() as session:
            taken = session.execute(
                sa.update(ImportJobRow)
                .where(ImportJobRow.id == job.id, ImportJobRow.state.in_(("uploaded", "failed")))
                .values(
                    state="running",
                    runner=RUNNER,
                    heartbeat_at=datetime.now(UTC),
                    rows_done=0,
                    report=None,
                    failure=None,
                    finished_at=None,
                    object=object_name,
                    preset=choice.preset,
                    mode=choice.mode,
                )
            ).rowcount
            if not taken:
                state = session.execute(
                    sa.select(ImportJobRow.state).where(ImportJobRow.id == job.id)
                ).scalar_one()
                raise Conflict(f"this file was imported already (the import is {state})")
        with self._lock:
            self._progress[job.id] = 0
        job.state, job.rows_done, job.report, job.failure = "running", 0, None, None
        job.object, job.preset, job.mode = object_name, choice.preset, choice.mode
        thread = threading.Thread(
            target=self._run,
            args=(context, job, choice, object_name),
            name=f"import-{job.id[:8]}",
            daemon=True,
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
        report: ImportReport | None = None
        failure: dict[str, Any] | None = None
        try:
            report = self._import(context, job, choice, object_name, dry_run=False)
        except KindredError as error:
            failure = error.to_problem()
        except Exception as error:  # a bug: say so without the data it may carry
            failure = {
                "type": "https://kindred.dev/problems/internal-error",
                "title": "Internal error",
                "status": 500,
                "detail": f"the import stopped unexpectedly ({type(error).__name__})",
            }
        with self._lock:
            done = self._progress.pop(job.id, 0)
        with self.kindred.database.write() as session:
            session.execute(
                sa.update(ImportJobRow)
                .where(ImportJobRow.id == job.id, ImportJobRow.runner == RUNNER)
                .values(
                    state="done" if report is not None else "failed",
                    report=_stored(report) if report is not None else None,
                    failure=failure,
                    rows_done=job.rows if report is not None else done,
                    runner=None,
                    finished_at=datetime.now(UTC),
                )
            )

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
        concurrent_writes = self.kindred.database.dialect != "sqlite"
        last_write = [time.monotonic()]

        def advance(count: int) -> None:
            if dry_run:
                return
            with self._lock:
                done = min(job.rows, self._progress.get(job.id, 0) + count)
                self._progress[job.id] = done
            now = time.monotonic()
            if concurrent_writes and now - last_write[0] >= PROGRESS_SECONDS:
                last_write[0] = now
                self._beat(job.id, done)

        with self.kindred.database.read() as session:
            compiled = self.kindred.records.registry(session).get(object_name)
        resolve_choice(context, job, compiled, choice)
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
                    raise Rollback(report)
        except Rollback as rollback:
            report = rollback.report
            report.committed = False
            if dry_run:
                report.record_ids = []
        report.dry_run = dry_run
        return report

    def _beat(self, job_id: str, done: int) -> None:
        """The progress and a heartbeat on the job's row (a second, short transaction)."""
        with self.kindred.database.write() as session:
            session.execute(
                sa.update(ImportJobRow)
                .where(ImportJobRow.id == job_id, ImportJobRow.runner == RUNNER)
                .values(rows_done=done, heartbeat_at=datetime.now(UTC))
            )

    def _abandon(self, job_id: str) -> ImportJob | None:
        """Fail a job whose runner is gone; None if another reader did so first."""
        failure = {
            "type": "https://kindred.dev/problems/import-interrupted",
            "title": "Import interrupted",
            "status": 503,
            "detail": "the server importing this file stopped before it finished; nothing "
            "of it was kept — run the import again",
        }
        with self.kindred.database.write() as session:
            row = session.get(ImportJobRow, job_id)
            if row is None or row.state != "running" or not _gone(row.runner, row.heartbeat_at):
                return None
            row.state, row.failure, row.runner = "failed", failure, None
            row.finished_at = datetime.now(UTC)
            session.flush()
            return _job(row)

    @staticmethod
    def _prune(session: Any, owner: str) -> None:
        """Drop finished jobs older than the TTL, and the owner's oldest beyond the limit."""
        cutoff = datetime.now(UTC) - timedelta(seconds=JOB_TTL_SECONDS)
        session.execute(
            sa.delete(ImportJobRow).where(
                ImportJobRow.created_at < cutoff, ImportJobRow.state != "running"
            )
        )
        mine = session.execute(
            sa.select(ImportJobRow.id)
            .where(ImportJobRow.owner_id == owner, ImportJobRow.state != "running")
            .order_by(ImportJobRow.created_at.desc(), ImportJobRow.id.desc())
            .offset(MAX_JOBS_PER_USER - 1)
        ).scalars()
        stale = list(mine)
        if stale:
            session.execute(sa.delete(ImportJobRow).where(ImportJobRow.id.in_(stale)))


def _gone(runner: str | None, heartbeat: datetime | None) -> bool:
    """Whether the process named ``runner`` can no longer finish its import."""
    if runner is None:
        return True
    host, _, rest = runner.partition(":")
    pid_text = rest.partition(":")[0]
    if host == socket.gethostname()[:80] and pid_text.isdigit():
        try:
            os.kill(int(pid_text), 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False
    if heartbeat is None:
        return True
    return (datetime.now(UTC) - heartbeat).total_seconds() > STALE_SECONDS


def _stored(report: ImportReport) -> dict[str, Any]:
    return dataclasses.asdict(report)


def _report(stored: dict[str, Any] | None) -> ImportReport | None:
    if stored is None:
        return None
    known = {f.name for f in dataclasses.fields(ImportReport)}
    values = {k: v for k, v in stored.items() if k in known}
    values["errors"] = [RowError(**e) for e in values.get("errors", [])]
    return ImportReport(**values)


def _job(row: ImportJobRow) -> ImportJob:
    """The job a row holds (``UTCDateTime`` columns come back timezone-aware)."""
    return ImportJob(
        id=row.id,
        owner_id=row.owner_id,
        filename=row.filename,
        text=row.text,
        headers=list(row.headers),
        rows=row.rows,
        created_at=row.created_at.timestamp(),
        state=row.state,  # type: ignore[arg-type]
        object=row.object,
        preset=row.preset,
        mode=row.mode,  # type: ignore[arg-type]
        rows_done=row.rows_done,
        report=_report(row.report),
        failure=row.failure,
        finished_at=row.finished_at.timestamp() if row.finished_at is not None else None,
    )


def jobs_of(kindred: Any) -> ImportJobs:
    """The process's import-job service (kept with the services)."""
    jobs = kindred.extras.get("import_jobs")
    if jobs is None:
        jobs = kindred.extras.setdefault("import_jobs", ImportJobs(kindred))
    assert isinstance(jobs, ImportJobs)
    return jobs
