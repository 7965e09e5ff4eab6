"""What the evidence log (ledger) API answers, as Pydantic models for the OpenAPI document.

Like ``records/schemas.py`` (see there for the conventions): the routes answer dicts with
orjson; these models only describe those bodies, declared per operation as
``responses={…: {"model": …}}``. ``tests/api/test_response_schemas_automation.py`` validates
real responses against them on both dialects. Binary values (tree roots, leaves, proof
hashes) are standard base64.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import JsonDict

BASE64: JsonDict = {"contentEncoding": "base64"}


class LedgerKeys(BaseModel):
    model_config = ConfigDict(extra="forbid")

    active: str = Field(
        description="The verifier key (C2SP note format) checkpoints are signed with"
    )
    keys: list[str] = Field(description="Every verifier key, oldest first, the active one included")


class SignedCheckpoint(BaseModel):
    model_config = ConfigDict(extra="forbid")

    size: int = Field(ge=0, description="The number of entries the checkpoint covers")
    root: str = Field(description="The Merkle tree root (base64)", json_schema_extra=BASE64)
    note: str = Field(description="The checkpoint as a C2SP signed note")


class ProofBundle(BaseModel):
    """Everything a third party needs to verify one entry offline
    (``kindred.ledger.verifier``)."""

    model_config = ConfigDict(extra="forbid")

    format: Literal["kindred-ledger-bundle/1"] = Field(
        description="The bundle format (``verifier.BUNDLE_FORMAT``)"
    )
    index: int = Field(ge=0, description="The entry's index")
    tree_size: int = Field(ge=1, description="The size of the tree the proof is against")
    leaf: str = Field(description="The entry's leaf bytes (base64)", json_schema_extra=BASE64)
    inclusion_proof: list[str] = Field(description="The audit path, leaf to root (base64 hashes)")
    checkpoint: str = Field(description="The signed checkpoint (C2SP note) of tree_size")


class ConsistencyProof(BaseModel):
    model_config = ConfigDict(extra="forbid")

    first: int = Field(ge=1, description="The smaller tree size")
    second: int = Field(ge=1, description="The larger tree size")
    proof: list[str] = Field(description="The consistency proof (base64 hashes)")


class LedgerIntegrity(BaseModel):
    model_config = ConfigDict(extra="forbid")

    intact: bool = Field(description="True when no problem was found")
    entries: int = Field(ge=0, description="Entries recomputed")
    checkpoints: int = Field(ge=0, description="Signed checkpoints checked")
    problems: list[str] = Field(description="One line per problem, naming where it is")


# -- the console's ledger explorer (api/ledger.py explorer_router) ------------------------------


class LedgerEntrySummary(BaseModel):
    """One entry as its leaf states it: never personal data (see service.py)."""

    model_config = ConfigDict(extra="forbid")

    index: int = Field(ge=0, description="The entry's position in the log")
    at: dt.datetime = Field(description="When it was appended (UTC, from the leaf)")
    kind: str = Field(description="What it evidences, e.g. role.upsert")
    subjects: list[str] = Field(description="Pseudonymous ids of whom it concerns")
    leaf_hash: str = Field(
        description="SHA-256(0x00 || leaf), the tree's leaf (base64)", json_schema_extra=BASE64
    )


class LedgerEntryPage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    data: list[LedgerEntrySummary] = Field(description="Entries by index, ascending")
    size: int = Field(ge=0, description="Entries in the log now")
    next_after: int | None = Field(
        description="Pass as ?after= for the next page; null on the last page"
    )


class LedgerEntryDetail(LedgerEntrySummary):
    model_config = ConfigDict(extra="forbid")

    leaf: str = Field(description="The exact leaf bytes (base64)", json_schema_extra=BASE64)
    commitment: str = Field(description="hex SHA-256(salt || canonical payload), from the leaf")
    payload: dict[str, Any] | None = Field(
        description="What the leaf commits to, as you may see it; null once erased"
    )
    payload_erased: bool = Field(description="The payload row was deleted (erasure)")
    withheld: list[str] = Field(
        description="JSON Pointers into the payload of values your role may not read "
        "(left out of payload)"
    )


class StoredCheckpoint(SignedCheckpoint):
    model_config = ConfigDict(extra="forbid")

    key_id: str = Field(description="The signing key's id (hex)")
    created_at: dt.datetime = Field(description="When it was stored (not evidence)")


class CheckpointList(BaseModel):
    model_config = ConfigDict(extra="forbid")

    data: list[StoredCheckpoint] = Field(description="Signed checkpoints, newest first")


class ProofBundleDownload(ProofBundle):
    """A proof bundle with the verifier key that signed its checkpoint, as one file. The key
    comes from the server: a verifier compares it with the key it holds out of band."""

    model_config = ConfigDict(extra="forbid")

    verifier_key: str = Field(
        description="The verifier key (name+keyid+base64) that signed the checkpoint"
    )
