"""Pinned systems of golden cases: what named tools answer during a case's evaluation runs
(``systems``: tool name → ``{"fail": {"status": 503, "times": 1}}`` and/or
``{"answer": {...}}``), validated at save (:func:`systems_errors`) and looked up by the
runtime per evaluation run tree (:class:`EvaluationPins`; nothing for a live run). The
tool-call layer answers the pinned calls (:class:`kindred.agents.tools.SystemPins`). Its own
module so the runtime and the evaluation both import it, one way."""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from kindred.agents.models import AgentRun, GoldenCase
from kindred.agents.tools import SystemPins, ToolRegistry
from kindred.errors import field_error

if TYPE_CHECKING:
    from kindred.db import Database

PIN_KEYS = frozenset({"fail", "answer"})
FAIL_KEYS = frozenset({"status", "times"})
PINNED_TREES = 4_096  # evaluation run trees whose pins (and call counts) are kept in memory


def systems_errors(tools: ToolRegistry, systems: Any) -> list[dict[str, Any]]:
    """What is wrong with a case's ``systems`` (empty when it may be saved)."""
    if not isinstance(systems, Mapping):
        return [field_error("/systems", "shape", "an object: tool name → what it answers")]
    errors: list[dict[str, Any]] = []
    for name, spec in systems.items():
        pointer = f"/systems/{str(name).replace('~', '~0').replace('/', '~1')}"
        tool = tools.get(name)
        if tool is None:
            errors.append(field_error(pointer, "unknown-tool", f"there is no tool {name!r}"))
            continue
        if not isinstance(spec, Mapping) or not spec or set(spec) - PIN_KEYS:
            errors.append(
                field_error(pointer, "shape", 'pin it with "fail": {"status"…} and/or "answer"')
            )
            continue
        if "fail" in spec:
            errors += _fail_errors(f"{pointer}/fail", spec["fail"], tool.system)
        if "answer" in spec:
            try:
                tool.output.model_validate(spec["answer"])
            except ValidationError as error:
                errors += [
                    field_error(
                        "/".join([f"{pointer}/answer", *(str(p) for p in item["loc"])]),
                        "output-schema",
                        f"{name} cannot answer this: {item['msg']}",
                    )
                    for item in error.errors()[:10]
                ]
    return errors


def _fail_errors(pointer: str, fail: Any, system: str) -> list[dict[str, Any]]:
    if system == "crm":
        return [
            field_error(
                pointer, "not-pinnable", "CRM tools read Kindred's own records: they cannot fail"
            )
        ]
    if not isinstance(fail, Mapping) or "status" not in fail or set(fail) - FAIL_KEYS:
        return [field_error(pointer, "shape", '{"status": 400–599, "times": n (optional)}')]
    errors = []
    status, times = fail["status"], fail.get("times")
    if isinstance(status, bool) or not isinstance(status, int) or not 400 <= status <= 599:
        errors.append(field_error(f"{pointer}/status", "range", "an HTTP status, 400–599"))
    if times is not None and (
        isinstance(times, bool) or not isinstance(times, int) or not 1 <= times <= 100
    ):
        errors.append(field_error(f"{pointer}/times", "range", "1–100 (omit it: every call)"))
    return errors


class EvaluationPins:
    """The pinned systems of evaluation run trees, by root run: its trigger names the golden
    case, whose ``systems`` apply to every tool call in the tree (sub-agent runs included).
    A live run has none, whatever runs beside it. Each tree's calls are counted in memory
    (``times``), for the latest ``PINNED_TREES`` trees."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self._trees: OrderedDict[str, SystemPins | None] = OrderedDict()
        self._lock = threading.Lock()

    async def for_run(self, mode: str, root_id: str) -> SystemPins | None:
        if mode != "evaluation":
            return None
        with self._lock:
            if root_id in self._trees:
                return self._trees[root_id]
        loaded = await asyncio.to_thread(self._load, root_id)
        with self._lock:
            if root_id not in self._trees:  # a concurrent step may have loaded it first
                self._trees[root_id] = loaded
                while len(self._trees) > PINNED_TREES:
                    self._trees.popitem(last=False)
            return self._trees[root_id]

    def _load(self, root_id: str) -> SystemPins | None:
        with self.database.read() as session:
            root = session.get(AgentRun, root_id)
            if root is None or root.mode != "evaluation":
                return None
            case_id = (root.trigger or {}).get("case")
            case = session.get(GoldenCase, case_id) if isinstance(case_id, str) else None
            if case is None or not case.systems:
                return None
            return SystemPins(dict(case.systems))
