"""Purposes a caller may declare for reading customer data (``X-Purpose``), in one frozen
registry: an unknown purpose is refused, never guessed.

``basis`` says what may authorize a read for the purpose: ``consent`` — only a valid consent
of the customer for that dimension, purpose and grantee; ``customer-request`` — the customer's
own request (signing in to their passport, their data-access export), honoured for the
system acting on it and for nobody else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

from kindred.errors import ValidationFailed, field_error


@dataclass(frozen=True)
class Purpose:
    name: str
    description: str
    basis: Literal["consent", "customer-request"] = "consent"
    # Governance guard: data for these leaves the CRM (training, LLM prompts, bulk exports).
    outbound: bool = False


_ALL = [
    Purpose("service", "after-sales service, repairs and support"),
    Purpose("sales", "quotes, orders and renewals"),
    Purpose("marketing", "campaigns, offers and coupons"),
    Purpose("analytics", "aggregate analysis and reporting"),
    Purpose("model-training", "training or tuning machine-learning models", outbound=True),
    Purpose("llm-processing", "sending data to a language model", outbound=True),
    Purpose("bulk-export", "exporting records out of the CRM", outbound=True),
    Purpose("passport-sign-in", "finding the customer who asked to sign in", "customer-request"),
    Purpose("data-access-request", "the customer's own data export (DSAR)", "customer-request"),
]
PURPOSES: Mapping[str, Purpose] = MappingProxyType({p.name: p for p in _ALL})


def purpose(name: str, path: str = "/purpose") -> Purpose:
    """The registered purpose called ``name``; ValidationFailed naming the known ones."""
    found = PURPOSES.get(name)
    if found is None:
        known = ", ".join(PURPOSES)
        raise ValidationFailed(
            f"unknown purpose {name!r}",
            errors=[field_error(path, "unknown-purpose", f"one of: {known}")],
        )
    return found
