"""Evidence log endpoints: checkpoints, proof bundles, consistency proofs, integrity."""

from __future__ import annotations

import base64
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from kindred.api.deps import ContextDep, KindredDep
from kindred.api.responses import Json
from kindred.errors import Conflict, PermissionDenied
from kindred.ledger import explorer
from kindred.ledger.schemas import (
    CheckpointList,
    ConsistencyProof,
    LedgerEntryDetail,
    LedgerEntryPage,
    LedgerIntegrity,
    LedgerKeys,
    ProofBundle,
    ProofBundleDownload,
    SignedCheckpoint,
)
from kindred.records.service import RequestContext

router = APIRouter(prefix="/api/v1/ledger", tags=["ledger"])
AUDITORS = {"admin", "compliance"}
# Entry indexes and tree sizes are signed 64-bit integers in the database; a larger one
# failed in SQL (a 500) instead of being refused.
MAX_INDEX = 2**63 - 1


def require_auditor(context: ContextDep) -> RequestContext:
    if not AUDITORS & set(context.principal.roles):
        raise PermissionDenied("the evidence log is for the admin and compliance roles")
    return context


AuditorDep = Annotated[RequestContext, Depends(require_auditor)]

# Response bodies are documented, not serialized, through the models in ledger/schemas.py
# (response_model=None): the routes answer dicts with orjson.


@router.get(
    "/public-key",
    summary="The active verifier key and all earlier ones",
    response_model=None,
    responses={200: {"model": LedgerKeys, "description": "The verifier keys"}},
)
def public_key(kindred: KindredDep, context: AuditorDep) -> Json:
    with kindred.database.write() as session:
        active = kindred.ledger.active_public_key(session)
        keys = kindred.ledger.public_keys(session)
    return Json({"active": active, "keys": keys})


@router.get(
    "/checkpoint",
    summary="The latest signed checkpoint (C2SP signed note)",
    response_model=None,
    responses={
        200: {
            "model": SignedCheckpoint,
            "description": "The latest checkpoint (one is signed if none exists)",
        }
    },
)
def latest_checkpoint(kindred: KindredDep, context: AuditorDep) -> Json:
    with kindred.database.write() as session:
        stored = kindred.ledger.latest_checkpoint(session) or kindred.ledger.checkpoint(session)
        body = {
            "size": stored.size,
            "root": base64.b64encode(stored.root).decode(),
            "note": stored.note,
        }
    return Json(body)


@router.post(
    "/checkpoints",
    status_code=201,
    summary="Sign a checkpoint now",
    response_model=None,
    responses={201: {"model": SignedCheckpoint, "description": "The checkpoint signed"}},
)
def make_checkpoint(kindred: KindredDep, context: AuditorDep) -> Json:
    with kindred.database.write() as session:
        stored = kindred.ledger.checkpoint(session)
        body = {
            "size": stored.size,
            "root": base64.b64encode(stored.root).decode(),
            "note": stored.note,
        }
    return Json(body, status_code=201)


@router.get(
    "/entries/{index}/proof",
    summary="Proof bundle for offline verification",
    response_model=None,
    responses={200: {"model": ProofBundle, "description": "The proof bundle"}},
)
def proof_bundle(
    index: Annotated[int, Path(ge=0, le=MAX_INDEX)], kindred: KindredDep, context: AuditorDep
) -> Json:
    with kindred.database.write() as session:
        bundle = kindred.ledger.bundle(session, index)
    return Json(bundle)


@router.get(
    "/consistency",
    summary="Consistency proof between two tree sizes",
    response_model=None,
    responses={200: {"model": ConsistencyProof, "description": "The consistency proof"}},
)
def consistency(
    kindred: KindredDep,
    context: AuditorDep,
    first: Annotated[int, Query(ge=1, le=MAX_INDEX)],
    second: Annotated[int, Query(ge=1, le=MAX_INDEX)],
) -> Json:
    with kindred.database.read() as session:
        proof = kindred.ledger.consistency(session, first, second)
    return Json(
        {"first": first, "second": second, "proof": [base64.b64encode(p).decode() for p in proof]}
    )


@router.get(
    "/verify",
    summary="Recompute the whole log and check every checkpoint",
    response_model=None,
    responses={200: {"model": LedgerIntegrity, "description": "The integrity report"}},
)
def verify(kindred: KindredDep, context: AuditorDep) -> Json:
    with kindred.database.read() as session:
        report = kindred.ledger.verify_log(session)
    return Json(
        {
            "intact": report.intact,
            "entries": report.entries,
            "checkpoints": report.checkpoints,
            "problems": report.problems,
        }
    )


# -- the console's explorer: entries, stored checkpoints, bundles as one file ------------------

explorer_router = APIRouter(prefix="/api/v1/ledger", tags=["ledger"])


@explorer_router.get(
    "/entries",
    summary="Entries by index, as their leaves state them",
    response_model=None,
    responses={200: {"model": LedgerEntryPage, "description": "A page of entries"}},
)
def entries(
    kindred: KindredDep,
    context: AuditorDep,
    after: Annotated[
        int | None, Query(ge=-1, le=MAX_INDEX, description="Entries after this index")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Json:
    with kindred.database.read() as session:
        return Json(explorer.page(session, after, limit))


@explorer_router.get(
    "/entries/{index}",
    summary="One entry: its leaf and the payload it commits to, as you may see it",
    response_model=None,
    responses={200: {"model": LedgerEntryDetail, "description": "The entry"}},
)
def entry(
    index: Annotated[int, Path(ge=0, le=MAX_INDEX)], kindred: KindredDep, context: AuditorDep
) -> Json:
    with kindred.database.read() as session:
        return Json(explorer.detail(session, index, context.principal))


@explorer_router.get(
    "/checkpoints",
    summary="Stored signed checkpoints, newest first",
    response_model=None,
    responses={200: {"model": CheckpointList, "description": "The checkpoints"}},
)
def checkpoints(
    kindred: KindredDep,
    context: AuditorDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> Json:
    with kindred.database.read() as session:
        return Json({"data": explorer.checkpoints(session, limit)})


@explorer_router.get(
    "/entries/{index}/bundle",
    summary="Proof bundle and the verifier key that signed its checkpoint, as one file",
    response_model=None,
    responses={200: {"model": ProofBundleDownload, "description": "The bundle"}},
)
def bundle_download(
    index: Annotated[int, Path(ge=0, le=MAX_INDEX)], kindred: KindredDep, context: AuditorDep
) -> Json:
    """What `kindred ledger verify-bundle` and the console's verifier check, with the key
    the server says signed the checkpoint: compare it with the key you hold out of band."""
    with kindred.database.write() as session:
        bundle = kindred.ledger.bundle(session, index)
        key = explorer.signing_key(bundle["checkpoint"], kindred.ledger.public_keys(session))
    if key is None:  # a stored checkpoint signed by no stored key: `ledger verify` says more
        raise Conflict("the checkpoint is signed by no key the database holds")
    return Json(
        {**bundle, "verifier_key": key},
        headers={"Content-Disposition": f'attachment; filename="ledger-entry-{index}.json"'},
    )
