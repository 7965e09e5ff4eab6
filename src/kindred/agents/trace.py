"""Decision traces: the canonical form of a run, its digest, and OpenTelemetry export.

The canonical trace is the run's identity (agent, version, inputs, what it read, outputs,
status) plus every step's kind, status, attempts, inputs, outputs, errors and trace details,
serialised as sorted-key JSON. Its SHA-256 is appended to the ledger when the run ends;
:func:`verify_run` recomputes it from the stored rows and compares it with the ledger entry,
so an edited trace (or an edited ledger payload) is detected.

:func:`otlp_spans` renders a run tree (the run and its sub-agent runs) as OTLP/JSON
``ExportTraceServiceRequest`` following the OpenTelemetry GenAI semantic conventions:
``invoke_agent <name>`` spans for runs, ``execute_tool <tool>`` for tool steps, ``chat
<model>`` for LLM steps, and plain spans for rule and human steps, with ``gen_ai.*`` and
``kindred.*`` attributes. Any OTLP collector accepts it (``POST /v1/traces``). A tool step's
span has one child span per attempt it kept (``execute_tool <tool> #<n>``), with the attempt's
requests, responses, error and wait before the retry.

:class:`AttemptLog` keeps every attempt of a tool step (bounded) in the step's trace as
``attempt_log``: being part of the trace, the digest on the ledger commits to all of them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from kindred.agents.runtime import RunState

STEP_FIELDS = ("kind", "status", "attempts", "input", "output", "trace", "error", "error_code")


def canonical(run: RunState, finished: dt.datetime | None) -> dict[str, Any]:
    from kindred.common.jsonvalues import plain_json

    return canonical_from_rows(
        {
            "id": run.id,
            "agent": run.agent,
            "version": run.version,
            "root_id": run.root_id,
            "parent_id": run.parent_id,
            "inputs": plain_json(run.inputs),
            "reads": None
            if run.reads is None
            else plain_json({"values": run.reads, "trace": run.read_trace}),
            "outputs": plain_json(run.outputs),
            "status": run.status,
            "error_code": run.error_code,
        },
        {
            step_id: {
                "kind": run.compiled.steps[step_id].step.kind,
                "status": result.status,
                "attempts": result.attempts,
                "input": plain_json(result.input),
                "output": plain_json(result.output),
                "trace": plain_json(result.trace),
                "error": result.error,
                "error_code": result.error_code,
            }
            for step_id, result in run.steps.items()
        },
    )


def canonical_from_rows(
    run: Mapping[str, Any], steps: Mapping[str, Mapping[str, Any]]
) -> dict[str, Any]:
    return {
        "run": {
            k: run.get(k)
            for k in (
                "id",
                "agent",
                "version",
                "root_id",
                "parent_id",
                "inputs",
                "reads",
                "outputs",
                "status",
                "error_code",
            )
        },
        "steps": {
            step_id: {k: step.get(k) for k in STEP_FIELDS}
            for step_id, step in sorted(steps.items())
        },
    }


def digest(document: Mapping[str, Any]) -> str:
    # Round-trip through JSON first so the digest is of what the database gives back.
    data = orjson.loads(orjson.dumps(document))
    return hashlib.sha256(orjson.dumps(data, option=orjson.OPT_SORT_KEYS)).hexdigest()


# -- attempts ----------------------------------------------------------------------------------

# Attempts of one step kept in full from the first; after them only the last one is kept and
# those between are counted (a step has at most 10 attempts; each call's bodies are clipped).
ATTEMPTS_KEPT_FIRST = 4


@dataclass
class AttemptLog:
    """Every attempt of a tool step as its trace shows it: number, start and end (Unix
    seconds), the requests and responses (``calls``, as the trace records them, bodies
    clipped), the status and error, and the wait before the next attempt. Bounded: the first
    ``ATTEMPTS_KEPT_FIRST`` attempts and the last one; ``dropped`` counts the others."""

    kept: list[dict[str, Any]] = field(default_factory=list)
    dropped: int = 0

    def add(
        self,
        number: int,
        started: float,
        finished: float,
        status: str,
        trace: Mapping[str, Any],
        error: str | None = None,
        error_code: str | None = None,
    ) -> None:
        failed = status == "failed"
        entry = {
            "attempt": number,
            "started_at": started,
            "finished_at": finished,
            "ms": round((finished - started) * 1000, 3),
            "status": status,
            "calls": list(trace.get("calls") or ()),
            "error": {"code": error_code, "message": error} if failed else None,
            "retryable": bool(trace.get("retryable", False)) if failed else None,
            "retry_wait_ms": None,
        }
        if len(self.kept) > ATTEMPTS_KEPT_FIRST:
            # The previous last attempt is now one between: counted, not kept.
            self.kept.pop()
            self.dropped += 1
        self.kept.append(entry)

    def waited(self, seconds: float) -> None:
        """The wait after the latest attempt before the next one."""
        if self.kept:
            self.kept[-1]["retry_wait_ms"] = round(seconds * 1000, 3)

    def into(self, trace: dict[str, Any]) -> None:
        trace["attempt_log"] = self.kept
        trace["attempts_dropped"] = self.dropped


# -- OpenTelemetry -----------------------------------------------------------------------------


def _ns(value: float | dt.datetime | None) -> str:
    if value is None:
        return "0"
    if isinstance(value, dt.datetime):
        value = value.timestamp()
    return str(int(value * 1_000_000_000))


def _id(text: str, size: int) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[: size * 2]


def _attr(key: str, value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"key": key, "value": {"boolValue": value}}
    if isinstance(value, int):
        # AnyValue ints are int64: a larger one goes as its decimal text.
        kind = "intValue" if -(2**63) <= value < 2**63 else "stringValue"
        return {"key": key, "value": {kind: str(value)}}
    if isinstance(value, float):
        return {"key": key, "value": {"doubleValue": value}}
    if not isinstance(value, str):
        value = orjson.dumps(value).decode()
    return {"key": key, "value": {"stringValue": value[:8000]}}


def otlp_spans(
    runs: Sequence[Mapping[str, Any]], steps: Mapping[str, Sequence[Mapping[str, Any]]]
) -> dict[str, Any]:
    """``runs``: the root run first, then its descendants (rows as dicts); ``steps``: run
    id → its step rows. Returns an OTLP/JSON ExportTraceServiceRequest."""
    root = runs[0]
    trace_id = _id(f"trace:{root['id']}", 16)
    run_span = {r["id"]: _id(f"run:{r['id']}", 8) for r in runs}
    step_span = {}
    for r in runs:
        for s in steps.get(r["id"], ()):
            step_span[(r["id"], s["step"])] = _id(f"step:{r['id']}:{s['step']}", 8)
    spans = []
    for r in runs:
        parent = ""
        if r.get("parent_id"):
            parent = step_span.get(
                (r["parent_id"], r.get("parent_step")), run_span.get(r["parent_id"], "")
            )
        start = r["started_at"]
        end = r.get("finished_at") or start
        spans.append(
            {
                "traceId": trace_id,
                "spanId": run_span[r["id"]],
                "parentSpanId": parent,
                "name": f"invoke_agent {r['agent']}",
                "kind": 1,  # INTERNAL
                "startTimeUnixNano": _ns(start),
                "endTimeUnixNano": _ns(end),
                "attributes": [
                    _attr("gen_ai.operation.name", "invoke_agent"),
                    _attr("gen_ai.agent.name", r["agent"]),
                    _attr("gen_ai.agent.id", f"{r['agent']}@{r['version']}"),
                    _attr("gen_ai.conversation.id", r["root_id"]),
                    _attr("kindred.run.id", r["id"]),
                    _attr("kindred.run.status", r["status"]),
                    _attr("kindred.run.digest", r.get("digest") or ""),
                    _attr("kindred.customer.id", r.get("customer_id") or ""),
                ],
                "status": {
                    "code": 2 if r["status"] in ("failed", "cancelled") else 1,
                    "message": r.get("error") or "",
                },
            }
        )
        for s in steps.get(r["id"], ()):
            span_id = step_span[(r["id"], s["step"])]
            spans.append(_step_span(trace_id, run_span[r["id"]], span_id, r, s))
            spans += _attempt_spans(trace_id, span_id, r, s)
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": [_attr("service.name", "kindred-agents")]},
                "scopeSpans": [
                    {"scope": {"name": "kindred.agents", "version": "1"}, "spans": spans}
                ],
            }
        ]
    }


def _step_span(
    trace_id: str, parent: str, span_id: str, run: Mapping[str, Any], step: Mapping[str, Any]
) -> dict[str, Any]:
    trace = step.get("trace") or {}
    kind = step["kind"]
    attributes = [
        _attr("kindred.step.id", step["step"]),
        _attr("kindred.step.kind", kind),
        _attr("kindred.step.status", step["status"]),
        _attr("kindred.step.attempts", int(step.get("attempts") or 0)),
        _attr("gen_ai.agent.name", run["agent"]),
    ]
    if trace.get("attempts_dropped"):
        attributes.append(_attr("kindred.step.attempts_dropped", int(trace["attempts_dropped"])))
    name = f"{kind} {step['step']}"
    span_kind = 1
    if kind == "tool" and trace.get("tool"):
        tool = trace["tool"]
        name = f"execute_tool {tool['name']}"
        span_kind = 3  # CLIENT: a call to another system
        attributes += [
            _attr("gen_ai.operation.name", "execute_tool"),
            _attr("gen_ai.tool.name", tool["name"]),
            _attr("gen_ai.tool.type", "function"),
            _attr("gen_ai.tool.call.id", f"{run['id']}:{step['step']}"),
            _attr("kindred.tool.version", tool.get("version", "")),
            _attr("gen_ai.tool.call.arguments", step.get("input")),
            _attr("gen_ai.tool.call.result", step.get("output")),
        ]
    elif kind == "llm":
        llm = trace.get("llm") or {}
        name = f"chat {llm.get('model', 'fallback')}"
        span_kind = 3 if llm else 1
        attributes += [_attr("gen_ai.operation.name", "chat")]
        if llm:
            attributes += [
                _attr("gen_ai.provider.name", llm.get("provider") or "openai"),
                _attr("gen_ai.request.model", llm.get("model") or ""),
                _attr("gen_ai.usage.input_tokens", int(llm.get("prompt_tokens") or 0)),
                _attr("gen_ai.usage.output_tokens", int(llm.get("completion_tokens") or 0)),
            ]
        else:
            attributes.append(_attr("kindred.llm.fallback", trace.get("fallback") or ""))
    elif kind == "rule":
        attributes.append(_attr("kindred.rule.evaluations", trace.get("rules") or []))
        attributes.append(_attr("kindred.rule.output", step.get("output")))
    elif kind == "human":
        attributes.append(_attr("kindred.task.id", trace.get("task") or ""))
        if trace.get("decision"):
            attributes.append(_attr("kindred.task.decision", trace["decision"]))
    elif kind == "agent":
        name = f"invoke_agent {(trace.get('agent') or {}).get('name', step['step'])}"
        attributes.append(_attr("gen_ai.operation.name", "invoke_agent"))
    failed = step["status"] == "failed" or step.get("error")
    started = step.get("started_at") or run["started_at"]
    return {
        "traceId": trace_id,
        "spanId": span_id,
        "parentSpanId": parent,
        "name": name,
        "kind": span_kind,
        # A step row without a start (the column allows it) sits at its run's start, not 1970.
        "startTimeUnixNano": _ns(started),
        "endTimeUnixNano": _ns(step.get("finished_at") or started),
        "attributes": attributes,
        "status": {"code": 2 if failed else 1, "message": step.get("error") or ""},
    }


def _attempt_spans(
    trace_id: str, parent: str, run: Mapping[str, Any], step: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """One CLIENT span per kept attempt of a tool step (OpenTelemetry's HTTP conventions make
    each try its own span, ``http.request.resend_count`` counting the earlier ones), under the
    step's span; the attempt's requests and responses are in ``kindred.attempt.calls``."""
    trace = step.get("trace") or {}
    log = trace.get("attempt_log")
    if step["kind"] != "tool" or not isinstance(log, list):
        return []
    tool = (trace.get("tool") or {}).get("name") or step["step"]
    spans = []
    for entry in log:
        if not isinstance(entry, Mapping):
            continue
        number = int(entry.get("attempt") or 0)
        calls = [c for c in entry.get("calls") or () if isinstance(c, Mapping)]
        attributes = [
            _attr("kindred.attempt.number", number),
            _attr("kindred.attempt.status", entry.get("status") or ""),
            _attr("kindred.attempt.calls", calls),
            _attr("gen_ai.tool.name", tool),
        ]
        if number > 1:
            attributes.append(_attr("http.request.resend_count", number - 1))
        if calls:
            last = calls[-1]
            url = str(last.get("url") or "")
            if last.get("params"):
                url += "?" + urllib.parse.urlencode(last["params"])
            attributes += [
                _attr("http.request.method", last.get("method") or ""),
                _attr("url.full", url),
            ]
            if isinstance(last.get("status"), int):
                attributes.append(_attr("http.response.status_code", last["status"]))
        error = entry.get("error") if isinstance(entry.get("error"), Mapping) else None
        if error:
            attributes.append(_attr("error.type", error.get("code") or "error"))
        if entry.get("retryable") is not None:
            attributes.append(_attr("kindred.attempt.retryable", bool(entry["retryable"])))
        if entry.get("retry_wait_ms") is not None:
            attributes.append(_attr("kindred.attempt.retry_wait_ms", float(entry["retry_wait_ms"])))
        spans.append(
            {
                "traceId": trace_id,
                "spanId": _id(f"attempt:{run['id']}:{step['step']}:{number}", 8),
                "parentSpanId": parent,
                "name": f"execute_tool {tool} #{number}",
                "kind": 3,  # CLIENT: the call to the other system
                "startTimeUnixNano": _ns(entry.get("started_at")),
                "endTimeUnixNano": _ns(entry.get("finished_at") or entry.get("started_at")),
                "attributes": attributes,
                "status": {
                    "code": 2 if entry.get("status") == "failed" else 1,
                    "message": (error or {}).get("message") or "",
                },
            }
        )
    return spans
