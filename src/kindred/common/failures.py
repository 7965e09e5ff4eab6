"""The one failure type of actions that talk to other systems.

Scenario steps (e-mail, webhooks, WeChat, connectors) and agent tools share it: whatever ran
the action reads ``retryable`` to decide whether to try again and ``code`` to label it.
"""

from __future__ import annotations


class ActionFailed(Exception):
    """An action (a scenario's THEN step, an agent's tool call) that did not happen.

    ``retryable`` says whether running the same step again may succeed; ``code`` is a short
    stable label for dashboards and tests (``"smtp-refused"``, ``"timeout"``, ``"http-5xx"``,
    ``"wechat-40003"``, ``"template-error"``, …); ``detail`` tells a person what went wrong.
    """

    def __init__(self, detail: str, *, retryable: bool, code: str) -> None:
        super().__init__(detail)
        self.detail = detail
        self.retryable = retryable
        self.code = code

    def __repr__(self) -> str:
        return f"ActionFailed({self.detail!r}, retryable={self.retryable}, code={self.code!r})"
