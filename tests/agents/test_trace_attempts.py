"""A retried tool step keeps every attempt in its trace (issue 28): each attempt's requests and
responses, error and wait before the retry, bounded; the OTLP export has a span per attempt and
the digest on the ledger commits to all of them. Against the real ERP reference service."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from kindred.agents.export import export_once
from kindred.agents.models import AgentRunStep
from kindred.agents.trace import ATTEMPTS_KEPT_FIRST
from tests.agents.conftest import ok, save, steps
from tests.agents.otlp_schema import parse_otlp
from tests.agents.test_export import Collector, collector  # noqa: F401  (a fixture)
from tests.agents.test_export import spans as collected_spans
from tests.agents.test_runtime import base_agent, crm, start  # noqa: F401  (crm: a fixture)


@pytest.fixture
def failing_erp(erp: str) -> Iterator[str]:
    """The ERP; whatever failures a test left pending are cleared afterwards."""
    yield erp
    ok(erp, "POST", "/_admin/fail-next", {"count": 0})


def retried_stock_agent(attempts: int) -> dict[str, Any]:
    agent = base_agent()
    agent["steps"][1]["retry"] = {"attempts": attempts, "backoff": "10ms", "max_backoff": "20ms"}
    return agent


def run_spans(kindred: Any, run_id: str) -> list[dict[str, Any]]:
    with kindred.database.read() as session:
        document = kindred.agents.otlp(session, run_id)
    parse_otlp(document)  # valid against opentelemetry-proto, or the test fails here
    found: list[dict[str, Any]] = document["resourceSpans"][0]["scopeSpans"][0]["spans"]
    return found


def attributes(span: dict[str, Any]) -> dict[str, Any]:
    return {a["key"]: next(iter(a["value"].values())) for a in span["attributes"]}


def test_a_step_retried_after_a_503_keeps_both_attempts(
    crm: Any,  # noqa: F811
    failing_erp: str,
) -> None:
    save(crm, retried_stock_agent(2))
    ok(failing_erp, "POST", "/_admin/fail-next", {"status": 503, "count": 1})

    result = start(crm)

    assert result["status"] == "succeeded"
    stock = steps(crm, result["id"])["stock"]
    assert (stock["status"], stock["attempts"]) == ("succeeded", 2)
    trace = stock["trace"]
    assert trace["attempts_dropped"] == 0
    first, second = trace["attempt_log"]
    assert (first["attempt"], first["status"], first["retryable"]) == (1, "failed", True)
    assert first["error"]["code"] == "http-5xx" and "503" in first["error"]["message"]
    [failed_call] = first["calls"]
    assert (failed_call["method"], failed_call["status"]) == ("GET", 503)
    assert failed_call["url"] == f"{failing_erp}/api/stock"
    assert failed_call["params"] == {"sku": "CT-TUBE-01"}
    assert failed_call["response"]["error"] == "forced_failure"
    # Full jitter: uniform in [0, min(max_backoff 20 ms, backoff 10 ms × 2^0)].
    assert 0 <= first["retry_wait_ms"] <= 10
    assert (second["attempt"], second["status"], second["error"]) == (2, "succeeded", None)
    assert second["retry_wait_ms"] is None and second["retryable"] is None
    [answered] = second["calls"]
    assert answered["status"] == 200 and answered["response"] == stock["output"]["rows"]
    # The second attempt began after the first ended.
    assert first["started_at"] <= first["finished_at"] <= second["started_at"]
    assert (
        stock["started_at"] <= first["started_at"] and second["finished_at"] <= stock["finished_at"]
    )
    # The final attempt stays at the top level, as before.
    assert trace["attempt"] == 2 and trace["calls"] == [answered]


def test_a_step_that_fails_every_attempt_records_each_and_the_run_says_why(
    crm: Any,  # noqa: F811
    failing_erp: str,
) -> None:
    save(crm, retried_stock_agent(3))
    ok(failing_erp, "POST", "/_admin/fail-next", {"status": 503, "count": 3})

    result = start(crm)

    assert result["status"] == "failed" and result["error_code"] == "http-5xx"
    assert result["error"].startswith("step stock failed: the inventory service (GET /api/stock)")
    assert "503" in result["error"]
    stock = steps(crm, result["id"])["stock"]
    assert (stock["status"], stock["attempts"], stock["error_code"]) == ("failed", 3, "http-5xx")
    log = stock["trace"]["attempt_log"]
    assert [a["attempt"] for a in log] == [1, 2, 3]
    assert [a["status"] for a in log] == ["failed"] * 3
    assert [[c["status"] for c in a["calls"]] for a in log] == [[503], [503], [503]]
    assert all(a["error"]["code"] == "http-5xx" and a["retryable"] for a in log)
    assert [a["retry_wait_ms"] is not None for a in log] == [True, True, False]
    assert stock["trace"]["error"] == {"code": "http-5xx", "message": stock["error"]}


def test_the_attempts_kept_are_bounded_to_the_first_ones_and_the_last(
    crm: Any,  # noqa: F811
    failing_erp: str,
) -> None:
    attempts = ATTEMPTS_KEPT_FIRST + 2
    save(crm, retried_stock_agent(attempts))
    ok(failing_erp, "POST", "/_admin/fail-next", {"status": 503, "count": attempts - 1})

    result = start(crm)

    assert result["status"] == "succeeded"
    stock = steps(crm, result["id"])["stock"]
    assert stock["attempts"] == attempts
    trace = stock["trace"]
    numbers = [a["attempt"] for a in trace["attempt_log"]]
    assert numbers == [*range(1, ATTEMPTS_KEPT_FIRST + 1), attempts]
    assert trace["attempts_dropped"] == 1
    assert [a["calls"][0]["status"] for a in trace["attempt_log"]] == [503] * 4 + [200]
    step_span = next(
        s for s in run_spans(crm, result["id"]) if s["name"] == "execute_tool erp.spot_stock"
    )
    assert attributes(step_span)["kindred.step.attempts_dropped"] == "1"


def test_the_otlp_export_has_a_span_per_attempt(
    crm: Any,  # noqa: F811
    failing_erp: str,
    collector: Collector,  # noqa: F811  (the fixture imported above)
) -> None:
    save(crm, retried_stock_agent(2))
    ok(failing_erp, "POST", "/_admin/fail-next", {"status": 503, "count": 1})
    result = start(crm)

    spans = run_spans(crm, result["id"])

    step_span = next(s for s in spans if s["name"] == "execute_tool erp.spot_stock")
    first = next(s for s in spans if s["name"] == "execute_tool erp.spot_stock #1")
    second = next(s for s in spans if s["name"] == "execute_tool erp.spot_stock #2")
    assert first["parentSpanId"] == second["parentSpanId"] == step_span["spanId"]
    assert len({step_span["spanId"], first["spanId"], second["spanId"]}) == 3
    assert (first["kind"], first["status"]["code"]) == (3, 2)
    assert "503" in first["status"]["message"]
    assert (second["kind"], second["status"]) == (3, {"code": 1, "message": ""})
    one, two = attributes(first), attributes(second)
    assert (one["http.response.status_code"], two["http.response.status_code"]) == ("503", "200")
    assert one["error.type"] == "http-5xx" and "error.type" not in two
    assert "http.request.resend_count" not in one and two["http.request.resend_count"] == "1"
    assert one["url.full"] == f"{failing_erp}/api/stock?sku=CT-TUBE-01"
    assert one["http.request.method"] == "GET"
    assert float(one["kindred.attempt.retry_wait_ms"]) > 0
    assert '"status":503' in one["kindred.attempt.calls"]
    assert int(first["startTimeUnixNano"]) <= int(first["endTimeUnixNano"])
    assert int(first["endTimeUnixNano"]) <= int(second["startTimeUnixNano"])
    # The collector gets the same spans.
    assert asyncio.run(export_once(crm, collector.url)) == 1
    pushed = {s["name"]: s for s in collected_spans(collector.bodies[0])}
    assert pushed["execute_tool erp.spot_stock #1"] == first
    assert pushed["execute_tool erp.spot_stock #2"] == second


def test_altering_an_earlier_attempt_is_detected_by_verification(
    crm: Any,  # noqa: F811
    failing_erp: str,
) -> None:
    save(crm, retried_stock_agent(2))
    ok(failing_erp, "POST", "/_admin/fail-next", {"status": 503, "count": 1})
    result = start(crm)
    with crm.database.read() as session:
        before = crm.agents.verify(session, result["id"])
    assert before["intact"] and before["problems"] == []
    stored = steps(crm, result["id"])["stock"]["trace"]
    altered = copy.deepcopy(stored)
    # Pretend the system never failed: only the first attempt changes; the final one stays.
    altered["attempt_log"][0]["calls"][0]["status"] = 200
    with crm.database.write() as session:
        session.execute(
            sa.update(AgentRunStep)
            .where(AgentRunStep.run_id == result["id"], AgentRunStep.step == "stock")
            .values(trace=altered)
        )

    with crm.database.read() as session:
        after = crm.agents.verify(session, result["id"])

    assert steps(crm, result["id"])["stock"]["trace"]["calls"] == stored["calls"]
    assert not after["intact"]
    assert after["digest"] != before["digest"]
    assert after["problems"] == [
        "the stored trace does not match the digest recorded when the run ended",
        "the ledger entry's digest does not match the stored trace",
    ]
