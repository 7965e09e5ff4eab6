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
``kindred.*`` attributes. Any OTLP collector accepts it (``POST /v1/traces``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from kindred.agents.runtime import RunState

STEP_FIELDS = ("kind", "status", "attempts", "input", "output", "trace", "error", "error_code")


def canonical(run: RunState, finished: dt.datetime | None) -> dict[str, Any]:
    from kindred.scenarios.evaluate import plain_json

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
        return {"key": key, "value": {"intValue": str(value)}}
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
            spans.append(
                _step_span(trace_id, run_span[r["id"]], step_span[(r["id"], s["step"])], r, s)
            )
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
    return {
        "traceId": trace_id,
        "spanId": span_id,
        "parentSpanId": parent,
        "name": name,
        "kind": span_kind,
        "startTimeUnixNano": _ns(step.get("started_at")),
        "endTimeUnixNano": _ns(step.get("finished_at") or step.get("started_at")),
        "attributes": attributes,
        "status": {"code": 2 if failed else 1, "message": step.get("error") or ""},
    }
