"""Evaluation against golden cases: decision consistency as pass^k, and the deviation rate.

Each golden case is run ``k`` times on each version asked for (runs in mode
``evaluation``, kept out of the live metrics; their tasks, in the same mode, are kept out of
the live queue). A run that reaches a person records ``waiting`` as its outcome and is then
closed by the evaluation (status ``cancelled``, its task closed): nobody is asked for real.
A run passes when its status and every expected output equal the case's ``expected`` values
(``expected`` may name ``_status``, e.g. ``waiting`` for a case that must go to a person).
For each version, **pass^k** is the share of cases whose k runs *all* pass — the
consistency measure: an agent that is right only most of the time scores low. The
**deviation rate** is the share of all runs whose compared outcome differs from the case's
most common outcome across runs and versions: a deterministic agent has 0, and a changed
version shows up as deviation. The article's target is a deviation rate below 5%.

A case may pin what named tools answer during its evaluation runs (``systems``: tool name →
``{"fail": {"status": 503, "times": 1}}`` and/or ``{"answer": {...}}``), so a system outage
can be a golden case. The runs carry their case in their trigger;
:class:`kindred.agents.pins.EvaluationPins` gives the runtime the pins of an evaluation run
tree (by its root run's case) and nothing for a live run, and the tool-call layer answers the
pinned calls (:class:`kindred.agents.tools.SystemPins`).
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from typing import TYPE_CHECKING, Any

import orjson
import sqlalchemy as sa

from kindred.agents.cancel import close_evaluation_run
from kindred.agents.models import Evaluation, HumanTask
from kindred.errors import ValidationFailed, field_error

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from kindred.agents.runtime import AgentRuntime
    from kindred.auth.permissions import Principal

DEVIATION_TARGET = 0.05
MAX_RUNS = 2_000


def _outcome(summary: dict[str, Any], expected: dict[str, Any]) -> dict[str, Any]:
    outputs = summary.get("outputs") or {}
    outcome = {name: outputs.get(name) for name in expected if name != "_status"}
    outcome["_status"] = summary["status"]
    return outcome


def _passes(outcome: dict[str, Any], expected: dict[str, Any]) -> bool:
    if "_status" in expected:
        if outcome["_status"] != expected["_status"]:
            return False
    elif outcome["_status"] != "succeeded":
        return False
    return all(outcome.get(k) == v for k, v in expected.items() if k != "_status")


async def evaluate(
    runtime: AgentRuntime,
    agent: str,
    *,
    k: int,
    versions: list[int] | None,
    principal: Principal,
) -> dict[str, Any]:
    service = runtime.service

    def load() -> tuple[list[dict[str, Any]], list[int]]:
        with runtime.kindred.database.read() as session:
            cases = service.cases(session, agent)
            known = [v["version"] for v in service.versions(session, agent)]
        return cases, known

    cases, known = await asyncio.to_thread(load)
    chosen = versions or [known[-1]]
    errors = []
    if not cases:
        errors.append(field_error("/cases", "required", f"agent {agent} has no golden cases yet"))
    if not 1 <= k <= 50:
        errors.append(field_error("/k", "range", "k is between 1 and 50"))
    for index, version in enumerate(chosen):
        if version not in known:
            errors.append(
                field_error(f"/versions/{index}", "unknown-version", f"no version {version}")
            )
    if len(cases) * k * len(chosen) > MAX_RUNS:
        errors.append(field_error("/k", "too-many", f"at most {MAX_RUNS} runs per evaluation"))
    if errors:
        raise ValidationFailed("the evaluation cannot run; nothing was run", errors=errors)
    evaluation_id = str(uuid.uuid4())
    per_case: dict[str, dict[str, Any]] = {}
    outcomes: dict[str, list[str]] = {}
    per_version: dict[int, dict[str, Any]] = {}
    for version in chosen:
        passed_all = 0
        for case in cases:
            runs = []
            for attempt in range(k):
                summary = await runtime.start(
                    agent,
                    case["inputs"],
                    principal=principal,
                    version=version,
                    mode="evaluation",
                    idempotency_key=f"evaluation:{evaluation_id}:{version}:{case['id']}:{attempt}",
                    # The case names the systems its runs pin (EvaluationPins).
                    trigger={"kind": "evaluation", "evaluation": evaluation_id, "case": case["id"]},
                )
                if summary["status"] == "waiting":
                    # Reaching a person is the outcome; nobody is asked for real.
                    await close_evaluation_run(runtime, summary["id"], evaluation_id)
                outcome = _outcome(summary, case["expected"])
                passed = _passes(outcome, case["expected"])
                runs.append({"run": summary["id"], "passed": passed, "outcome": outcome})
                outcomes.setdefault(case["name"], []).append(
                    orjson.dumps(outcome, option=orjson.OPT_SORT_KEYS).decode()
                )
            all_passed = all(r["passed"] for r in runs)
            passed_all += all_passed
            per_case.setdefault(case["name"], {"expected": case["expected"], "versions": {}})
            per_case[case["name"]]["versions"][str(version)] = {
                "pass_k": all_passed,
                "passed": sum(r["passed"] for r in runs),
                "runs": runs,
            }
        per_version[version] = {"pass_k": passed_all / len(cases), "cases": len(cases)}
    deviating = 0
    total = 0
    for case_name, seen in outcomes.items():
        modal, _ = Counter(seen).most_common(1)[0]
        deviations = sum(1 for o in seen if o != modal)
        per_case[case_name]["deviations"] = deviations
        deviating += deviations
        total += len(seen)
    deviation_rate = deviating / total if total else 0.0
    pass_k = min(v["pass_k"] for v in per_version.values())
    report = {
        "id": evaluation_id,
        "agent": agent,
        "k": k,
        "versions": chosen,
        "cases": len(cases),
        "runs": total,
        "pass_k": pass_k,
        "pass_k_by_version": {str(v): d["pass_k"] for v, d in per_version.items()},
        "deviation_rate": deviation_rate,
        "deviation_target": DEVIATION_TARGET,
        "meets_target": deviation_rate < DEVIATION_TARGET,
        "detail": per_case,
    }

    def store() -> None:
        with runtime.kindred.database.write() as session:
            session.add(
                Evaluation(
                    id=evaluation_id,
                    agent=agent,
                    versions=chosen,
                    k=k,
                    cases=len(cases),
                    pass_k=pass_k,
                    deviation_rate=deviation_rate,
                    report=report,
                    created_by=principal.user_id,
                )
            )

    await asyncio.to_thread(store)
    return report


def _run_ids(report: dict[str, Any]) -> list[str]:
    return [
        run["run"]
        for case in (report.get("detail") or {}).values()
        for version in (case.get("versions") or {}).values()
        for run in version.get("runs") or []
    ]


def history(session: Session, agent: str, limit: int = 100) -> list[dict[str, Any]]:
    """The agent's evaluations, oldest first (the latest ``limit``): pass^k, deviation rate
    and the intervention rate (share of the evaluation's runs a person was asked into)."""
    rows = list(
        session.execute(
            sa.select(Evaluation)
            .where(Evaluation.agent == agent)
            .order_by(Evaluation.created_at.desc(), Evaluation.id)
            .limit(limit)
        ).scalars()
    )
    rows.reverse()
    runs = {row.id: _run_ids(row.report) for row in rows}
    every = [run for ids in runs.values() for run in ids]
    asked: set[str] = set()
    for start in range(0, len(every), 500):
        asked.update(
            session.execute(
                sa.select(HumanTask.root_id).where(
                    HumanTask.root_id.in_(every[start : start + 500])
                )
            ).scalars()
        )
    items = []
    for row in rows:
        ids = runs[row.id]
        items.append(
            {
                "id": row.id,
                "agent": row.agent,
                "created_at": row.created_at.isoformat(),
                "created_by": row.created_by,
                "k": row.k,
                "versions": list(row.versions),
                "cases": row.cases,
                "runs": len(ids),
                "pass_k": row.pass_k,
                "deviation_rate": row.deviation_rate,
                "intervention_rate": (sum(1 for i in ids if i in asked) / len(ids)) if ids else 0.0,
                "meets_target": row.deviation_rate < DEVIATION_TARGET,
            }
        )
    return items
