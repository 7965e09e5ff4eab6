"""What the evidence log (ledger) API answers, as Pydantic models for the OpenAPI document.

Like ``records/schemas.py`` (see there for the conventions): the routes answer dicts with
orjson; these models only describe those bodies, declared per operation as
``responses={…: {"model": …}}``. ``tests/api/test_response_schemas_automation.py`` validates
real responses against them on both dialects. Binary values (tree roots, leaves, proof
hashes) are standard base64.
"""

from __future__ import annotations

from typing import Literal

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
