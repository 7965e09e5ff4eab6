"""Identity and passport sign-in endpoints: DID documents (public, as DID resolution is),
a customer record's DID (staff), and the customer's sign-in to their data passport by DID
signature or magic link. Thin: everything else in ``kindred.sovereignty``."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from kindred.api.deps import ContextDep, KindredDep, client_address
from kindred.api.responses import Json
from kindred.common.durations import parse_duration
from kindred.common.mail import SmtpSettings
from kindred.errors import (
    NotFound,
    PermissionDenied,
    Unauthenticated,
    ValidationFailed,
    field_error,
)
from kindred.services import Kindred
from kindred.sovereignty.credentials import Grantee
from kindred.sovereignty.decision_log import subject_rows
from kindred.sovereignty.identity import base64url, key_fragment
from kindred.sovereignty.passport import PassportRefused, PassportSession
from kindred.sovereignty.schemas import (
    AccessLog,
    ConsentList,
    ConsentPublic,
    ConsentRequestList,
    ConsentRequestPublic,
    ConsentWithCredential,
    ConsentWithCredentialList,
    DidDocument,
    ErasureResult,
    HandedOverKey,
    MagicLinkSent,
    PassportChallenge,
    PassportData,
    PassportMe,
    PassportToken,
    PreparedConsent,
    ProvenanceList,
    ProvenancePublic,
    RecordDid,
    SovereigntyKpis,
    SubjectExport,
)

router = APIRouter(tags=["sovereignty"])


class ChallengeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    did: str = Field(description="the customer's did:key")


class SessionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    did: str | None = None
    challenge: str | None = Field(default=None, description="the nonce from /challenge")
    signature: str | None = Field(
        default=None, description="base64url Ed25519 signature of the challenge's 'sign' text"
    )
    magic_link: str | None = Field(default=None, description="the token from the emailed link")


class MagicLinkRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: str = Field(min_length=3, max_length=320)


# -- DID documents (public) ----------------------------------------------------------------


@router.get(
    "/.well-known/did.json",
    summary="The enterprise's did:web document",
    response_model=None,
    responses={200: {"model": DidDocument, "description": "The enterprise's DID document"}},
)
def enterprise_document(kindred: KindredDep) -> Json:
    with kindred.database.write() as session:  # the first call creates the key
        return Json(kindred.identities.web_document(session))


@router.get(
    "/domains/{domain}/did.json",
    summary="A data domain's did:web document",
    response_model=None,
    responses={200: {"model": DidDocument, "description": "The data domain's DID document"}},
)
def domain_document(kindred: KindredDep, domain: str) -> Json:
    with kindred.database.write() as session:
        return Json(kindred.identities.web_document(session, domain))


@router.get(
    "/api/v1/dids/{did}",
    summary="Resolve a did:key or one of this deployment's did:web",
    response_model=None,
    responses={200: {"model": DidDocument, "description": "The DID document"}},
)
def resolve(kindred: KindredDep, did: str) -> Json:
    with kindred.database.write() as session:
        return Json(kindred.identities.resolve(session, did))


@router.get(
    "/api/v1/objects/{object_name}/records/{record_id}/did",
    summary="A customer record's DID",
    response_model=None,
    responses={200: {"model": RecordDid, "description": "The customer's DID"}},
)
def record_did(kindred: KindredDep, context: ContextDep, object_name: str, record_id: str) -> Json:
    with kindred.database.read() as session:
        kindred.records.get(session, context, object_name, record_id, fields=[])  # may see it?
        identity = kindred.identities.of_subject(session, object_name, record_id)
        return Json(
            {
                "did": identity.did,
                "custody": identity.custody,
                "created_at": identity.created_at.isoformat(),
            }
        )


# -- passport sign-in ----------------------------------------------------------------------
# Throttled like staff sign-in (kindred.auth.throttle): failures per DID (locked with back-off,
# shared by every process), sign-in links asked for per email address, and per client
# address every challenge, link request and failed sign-in.

_DID_LOCKED = "too many failed sign-ins for this DID"


def _did_key(kindred: Kindred, did: str) -> str:
    return kindred.auth.throttle.account_key("passport-did", did.split("#", 1)[0])


@router.post(
    "/api/v1/passport/challenge",
    status_code=201,
    summary="A challenge to sign",
    response_model=None,
    responses={201: {"model": PassportChallenge, "description": "Sign it within its validity"}},
)
def challenge(kindred: KindredDep, body: ChallengeRequest, request: Request) -> Json:
    throttle, address = kindred.auth.throttle, client_address(request)
    throttle.check_address("passport", address)
    with kindred.database.write() as session:
        throttle.check_account(session, _did_key(kindred, body.did), _DID_LOCKED)
        throttle.address_failed("passport", address)  # each challenge is a row written
        nonce, expires, text = kindred.passport.challenge(session, body.did)
    return Json({"challenge": nonce, "expires_at": expires, "sign": text}, status_code=201)


@router.post(
    "/api/v1/passport/session",
    status_code=201,
    summary="Sign in to the passport",
    response_model=None,
    responses={201: {"model": PassportToken, "description": "Signed in"}},
)
def open_session(kindred: KindredDep, body: SessionRequest, request: Request) -> Json:
    throttle, address = kindred.auth.throttle, client_address(request)
    throttle.check_address("passport", address)
    did_key: str | None = None
    if body.magic_link is not None:
        if body.did or body.challenge or body.signature:
            raise ValidationFailed(
                "send either a magic link or a DID with a signed challenge, not both",
                errors=[
                    field_error("/magic_link", "exclusive", "alone, or did+challenge+signature")
                ],
            )
        token = body.magic_link

        def step() -> Any:
            return kindred.passport.sign_in_with_magic_link(session, token)

    else:
        missing = [n for n in ("did", "challenge", "signature") if getattr(body, n) is None]
        if missing:
            raise ValidationFailed(
                f"missing {', '.join(missing)}",
                errors=[
                    field_error(f"/{n}", "required", "needed to sign in by DID") for n in missing
                ],
            )
        did, nonce, signature = str(body.did), str(body.challenge), str(body.signature)
        did_key = _did_key(kindred, did)

        def step() -> Any:
            return kindred.passport.sign_in_with_signature(session, did, nonce, signature)

    with kindred.database.write() as session:
        # A locked DID is refused before its challenge is looked at (nor used up).
        on_record = did_key is not None and throttle.check_account(session, did_key, _DID_LOCKED)
        outcome = kindred.passport.attempt(session, step)
        if did_key is not None and isinstance(outcome, PassportRefused):
            throttle.record_failure(session, did_key)
        elif did_key is not None and on_record:
            throttle.clear(session, did_key)
    if isinstance(outcome, PassportRefused):
        throttle.address_failed("passport", address)
        raise outcome  # raised after the commit: the attempt used its challenge up
    token, owner = outcome
    return Json(
        {"token": token, "did": owner.did, "via": owner.via, "expires_in": 900}, status_code=201
    )


@router.post(
    "/api/v1/passport/magic-link",
    status_code=202,
    summary="Email a sign-in link",
    response_model=None,
    responses={
        202: {
            "model": MagicLinkSent,
            "description": "Asked for (whether the address is known is not revealed)",
        }
    },
)
async def magic_link(kindred: KindredDep, body: MagicLinkRequest, request: Request) -> Json:
    """Always 202 with the same body, before any mail is sent: whether the address is known
    is not revealed, nor whether the mail server is up (the link is delivered, and retried,
    in the background). Limited per email address (known or not, alike) and per client
    address: 429 with Retry-After."""
    throttle, address = kindred.auth.throttle, client_address(request)
    throttle.check_address("passport", address)

    def issue() -> tuple[str, str] | None:
        with kindred.database.write() as session:
            throttle.record_attempt(
                session,
                throttle.account_key("passport-link", body.email),
                "too many sign-in links asked for this email address",
            )
            throttle.address_failed("passport", address)
            return kindred.passport.magic_link_for_email(session, kindred.records, body.email)

    found = await asyncio.to_thread(issue)
    if found is not None:
        token, to = found
        smtp = SmtpSettings.from_settings(kindred.settings)
        kindred.passport.mail_link(smtp, kindred.settings.public_url, token, to)
    return Json({"status": "if the address belongs to a customer, a link is on its way"}, 202)


def passport_session(
    kindred: KindredDep, authorization: Annotated[str | None, Header()] = None
) -> PassportSession:
    """The signed-in customer (``Authorization: Bearer <passport token>``)."""
    if not authorization or not authorization.lower().startswith("bearer "):
        raise Unauthenticated("sign in to the passport: POST /api/v1/passport/session")
    with kindred.database.read() as session:
        return kindred.passport.session_from_token(session, authorization[7:].strip())


PassportDep = Annotated[PassportSession, Depends(passport_session)]


class HandOverBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    confirm: Literal["I will keep my key safe; Kindred forgets it"]


@router.post(
    "/api/v1/passport/key",
    summary="Take my key into my own wallet",
    response_model=None,
    responses={
        200: {
            "model": HandedOverKey,
            "description": "Your key: keep it safe, it is not shown again",
        }
    },
)
def take_key(kindred: KindredDep, owner: PassportDep, body: HandOverBody) -> Json:
    """The custodial key, once, as a JWK; Kindred keeps no copy (sign in by DID from now)."""
    with kindred.database.write() as session:
        key = kindred.identities.hand_over(session, owner.did)
    raw = key.private_bytes_raw()
    public = key.public_key().public_bytes_raw()
    return Json(
        {
            "did": owner.did,
            "kid": key_fragment(owner.did),
            "jwk": {"kty": "OKP", "crv": "Ed25519", "x": base64url(public), "d": base64url(raw)},
        },
        headers={"Cache-Control": "no-store"},
    )


@router.get(
    "/api/v1/passport/me",
    summary="Who is signed in to the passport",
    response_model=None,
    responses={200: {"model": PassportMe, "description": "The signed-in customer"}},
)
def me(owner: PassportDep) -> Json:
    return Json(
        {
            "did": owner.did,
            "subject": {"object": owner.subject_object, "id": owner.subject_id},
            "via": owner.via,
        }
    )


# -- consents: the customer's side (passport) --------------------------------------------------


class GranteeBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["role", "user", "agent"]
    id: str = Field(min_length=1, max_length=100)


class ConsentBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    dimensions: list[str] = Field(min_length=1, max_length=50)
    purpose: str
    grantee: GranteeBody
    valid_until: datetime | None = None
    valid_for: str | None = Field(default=None, description="a duration instead: 30d, 12h …")
    valid_from: datetime | None = None


class SubmitBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    credential: str = Field(min_length=10, max_length=100_000)


class ShortenBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    valid_until: datetime


def consent_view(row: Any, *, credential: bool = False) -> dict[str, Any]:
    body = {
        "id": row.id,
        "did": row.subject_did,
        "dimensions": row.dimensions,
        "purpose": row.purpose,
        "grantee": {"kind": row.grantee_kind, "id": row.grantee_id},
        "valid_from": datetime.fromtimestamp(row.valid_from, UTC).isoformat(),
        "valid_until": datetime.fromtimestamp(row.valid_until, UTC).isoformat(),
        "state": row.state,
        "revoked_at": (
            datetime.fromtimestamp(row.revoked_at, UTC).isoformat() if row.revoked_at else None
        ),
        "status": {"list": row.status_list, "index": row.status_index},
        "request": row.request_id,
    }
    if credential:
        body["credential"] = row.credential
    return body


def request_view(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "did": row.subject_did,
        "dimensions": row.dimensions,
        "purpose": row.purpose,
        "grantee": {"kind": row.grantee_kind, "id": row.grantee_id},
        "valid_for_seconds": row.valid_seconds,
        "note": row.note,
        "state": row.state,
        "consent": row.consent_id,
        "created_at": row.created_at.isoformat(),
        "decided_at": row.decided_at.isoformat() if row.decided_at else None,
    }


def _aware(moment: datetime) -> datetime:
    """A datetime sent without a zone is taken as UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _terms(body: ConsentBody) -> dict[str, Any]:
    """The consent service's keyword arguments for a grant or a prepared grant."""
    if (body.valid_until is None) == (body.valid_for is None):
        raise ValidationFailed(
            "give either valid_until or valid_for",
            errors=[field_error("/valid_until", "required", "one of valid_until, valid_for")],
        )
    start = _aware(body.valid_from) if body.valid_from is not None else None
    if body.valid_until is not None:
        end = _aware(body.valid_until)
    else:
        try:
            seconds = parse_duration(str(body.valid_for))
        except ValueError as error:
            raise ValidationFailed(
                str(error), errors=[field_error("/valid_for", "invalid", str(error))]
            ) from None
        end = (start or datetime.now(UTC)) + timedelta(seconds=seconds)
    return {
        "dimensions": body.dimensions,
        "purpose": body.purpose,
        "grantee": Grantee(body.grantee.kind, body.grantee.id),
        "valid_from": start,
        "valid_until": end,
    }


@router.get(
    "/api/v1/passport/consents",
    summary="My consents",
    response_model=None,
    responses={
        200: {
            "model": ConsentWithCredentialList,
            "description": "Your consents, with their credentials",
        }
    },
)
def my_consents(kindred: KindredDep, owner: PassportDep) -> Json:
    with kindred.database.read() as session:
        rows = kindred.consents.of(session, owner.did)
        return Json({"data": [consent_view(r, credential=True) for r in rows]})


@router.post(
    "/api/v1/passport/consents",
    status_code=201,
    summary="Grant a consent",
    response_model=None,
    responses={201: {"model": ConsentWithCredential, "description": "Granted"}},
)
def grant(kindred: KindredDep, owner: PassportDep, body: ConsentBody) -> Json:
    terms = _terms(body)
    with kindred.database.write() as session:
        row = kindred.consents.grant(session, owner.did, **terms)
        return Json(consent_view(row, credential=True), status_code=201)


@router.post(
    "/api/v1/passport/consents/prepare",
    status_code=201,
    summary="Prepare a consent for my wallet to sign",
    response_model=None,
    responses={201: {"model": PreparedConsent, "description": "The grant to sign"}},
)
def prepare(kindred: KindredDep, owner: PassportDep, body: ConsentBody) -> Json:
    terms = _terms(body)
    with kindred.database.write() as session:
        draft = kindred.consents.prepare(session, owner.did, **terms)
    return Json(
        {
            "id": draft.id,
            "subject": draft.subject,
            "dimensions": list(draft.dimensions),
            "purpose": draft.purpose,
            "grantee": {"kind": draft.grantee.kind, "id": draft.grantee.id},
            "valid_from": draft.valid_from.isoformat(),
            "valid_until": draft.valid_until.isoformat(),
            "issued_at": draft.issued_at.isoformat(),
            "status": {"uri": draft.status.list_uri, "index": draft.status.index},
            "sign_as": "vc+sd-jwt (EdDSA) with the key of your DID; submit to /submit",
        },
        status_code=201,
    )


@router.post(
    "/api/v1/passport/consents/submit",
    status_code=201,
    summary="Submit a signed consent",
    response_model=None,
    responses={201: {"model": ConsentWithCredential, "description": "Verified and active"}},
)
def submit(kindred: KindredDep, owner: PassportDep, body: SubmitBody) -> Json:
    with kindred.database.write() as session:
        row = kindred.consents.submit(session, owner.did, body.credential)
        return Json(consent_view(row, credential=True), status_code=201)


@router.delete(
    "/api/v1/passport/consents/{consent_id}",
    summary="Revoke a consent (at once)",
    response_model=None,
    responses={200: {"model": ConsentPublic, "description": "Revoked"}},
)
def revoke(kindred: KindredDep, owner: PassportDep, consent_id: str) -> Json:
    with kindred.database.write() as session:
        return Json(consent_view(kindred.consents.revoke(session, owner.did, consent_id)))


@router.patch(
    "/api/v1/passport/consents/{consent_id}",
    summary="End a consent earlier",
    response_model=None,
    responses={
        200: {
            "model": ConsentWithCredential,
            "description": "The consent that replaces it (the old one is revoked)",
        }
    },
)
def shorten(kindred: KindredDep, owner: PassportDep, consent_id: str, body: ShortenBody) -> Json:
    with kindred.database.write() as session:
        row = kindred.consents.shorten(session, owner.did, consent_id, _aware(body.valid_until))
        return Json(consent_view(row, credential=True))


@router.get(
    "/api/v1/passport/consent-requests",
    summary="Consents staff asked me for",
    response_model=None,
    responses={200: {"model": ConsentRequestList, "description": "Consents staff asked you for"}},
)
def my_requests(kindred: KindredDep, owner: PassportDep) -> Json:
    with kindred.database.read() as session:
        return Json(
            {"data": [request_view(r) for r in kindred.consents.requests(session, owner.did)]}
        )


@router.post(
    "/api/v1/passport/consent-requests/{request_id}/{answer}",
    summary="Answer a request",
    response_model=None,
    responses={200: {"model": ConsentRequestPublic, "description": "Answered"}},
)
def answer(kindred: KindredDep, owner: PassportDep, request_id: str, answer: str) -> Json:
    if answer not in ("approve", "decline"):
        raise NotFound(f"answer a request with /approve or /decline, not /{answer}")
    with kindred.database.write() as session:
        row = kindred.consents.decide(session, owner.did, request_id, answer == "approve")
        return Json(request_view(row))


@router.get(
    "/api/v1/passport/access-log",
    summary="Who read my data, when, for what",
    response_model=None,
    responses={200: {"model": AccessLog, "description": "Reads of your values, newest first"}},
)
def access_log(
    kindred: KindredDep, owner: PassportDep, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> Json:
    kindred.pdp.log.flush()  # what was decided a moment ago is part of the answer
    with kindred.database.read() as session:
        rows = subject_rows(session, owner.did, newest_first=True, limit=limit)
        return Json(
            {
                "data": [
                    {
                        "at": datetime.fromtimestamp(d["at"], UTC).isoformat(),
                        "dimension": d["dimension"],
                        "purpose": d["purpose"],
                        "accessor": d["accessor"],
                        "channel": d["channel"],
                        "allowed": d["allowed"],
                        "reason": d["reason"],
                        "consent": d["consent_id"],
                    }
                    for _, decisions in rows
                    for d in decisions
                ]
            }
        )


@router.get(
    "/api/v1/passport/data",
    summary="Every data dimension held about me",
    response_model=None,
    responses={200: {"model": PassportData, "description": "Every dimension held about you"}},
)
def my_data(kindred: KindredDep, owner: PassportDep) -> Json:
    kindred.pdp.log.flush()
    with kindred.database.read() as session:
        body = kindred.consents.passport(session, owner.did)
        subject = body["subject"]
        held = {
            f"{subject['object']}.{r.field}": provenance_view(r)
            for r in kindred.provenance.of(session, subject["object"], subject["id"])
        }
    for dimension in body["dimensions"]:
        dimension["provenance"] = held.get(dimension["dimension"])
    return Json(body)


# -- consents: staff and verifiers -------------------------------------------------------------


class RequestBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    object: str
    record_id: str
    dimensions: list[str] = Field(min_length=1, max_length=50)
    purpose: str
    valid_for: str = "365d"
    note: str | None = Field(default=None, max_length=2000)


@router.post(
    "/api/v1/consent-requests",
    status_code=201,
    summary="Ask a customer for consent",
    response_model=None,
    responses={
        201: {
            "model": ConsentRequestPublic,
            "description": "Asked: the customer answers in their passport",
        }
    },
)
def ask(kindred: KindredDep, context: ContextDep, body: RequestBody) -> Json:
    try:
        seconds = parse_duration(body.valid_for)
    except ValueError as error:
        raise ValidationFailed(
            str(error), errors=[field_error("/valid_for", "invalid", str(error))]
        ) from None
    with kindred.database.write() as session:
        row = kindred.consents.ask(
            session,
            context,
            body.object,
            body.record_id,
            dimensions=body.dimensions,
            purpose=body.purpose,
            valid_for=timedelta(seconds=seconds),
            note=body.note,
        )
        return Json(request_view(row), status_code=201)


@router.get(
    "/api/v1/objects/{object_name}/records/{record_id}/consents",
    summary="A customer's consents (staff view)",
    response_model=None,
    responses={200: {"model": ConsentList, "description": "The customer's consents"}},
)
def record_consents(
    kindred: KindredDep, context: ContextDep, object_name: str, record_id: str
) -> Json:
    with kindred.database.read() as session:
        kindred.records.get(session, context, object_name, record_id, fields=[])
        identity = kindred.identities.of_subject(session, object_name, record_id)
        rows = kindred.consents.of(session, identity.did)
        return Json({"data": [consent_view(r) for r in rows]})


@router.get("/api/v1/status-lists/{list_id}", summary="A revocation list (statuslist+jwt)")
def status_list(kindred: KindredDep, list_id: str) -> Response:
    with kindred.database.write() as session:
        token = kindred.consents.status_list(session, list_id)
    return Response(token, media_type="application/statuslist+jwt")


# -- the customer's rights: export and erasure ---------------------------------------------------


class EraseBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    confirm: Literal["erase everything about me", "erase this customer"]


RIGHTS_OFFICERS = {"admin", "compliance"}


def _officer(context: ContextDep) -> Any:
    if not RIGHTS_OFFICERS & set(context.principal.roles):
        raise PermissionDenied(
            "data subject requests are handled by the admin and compliance roles"
        )
    return context


OfficerDep = Annotated[Any, Depends(_officer)]


@router.get(
    "/api/v1/passport/export",
    summary="Everything held about me (JSON)",
    response_model=None,
    responses={200: {"model": SubjectExport, "description": "Everything held about you"}},
)
def export_me(kindred: KindredDep, owner: PassportDep) -> Json:
    kindred.pdp.log.flush()
    with kindred.database.read() as session:
        body = kindred.rights.export(session, owner.did)
    return Json(
        body, headers={"Content-Disposition": 'attachment; filename="my-kindred-data.json"'}
    )


@router.post(
    "/api/v1/passport/erase",
    summary="Erase everything about me",
    response_model=None,
    responses={200: {"model": ErasureResult, "description": "Erased"}},
)
def erase_me(kindred: KindredDep, owner: PassportDep, body: EraseBody) -> Json:
    if body.confirm != "erase everything about me":
        raise ValidationFailed(
            "confirm with the words 'erase everything about me'",
            errors=[field_error("/confirm", "confirmation", "erase everything about me")],
        )
    kindred.pdp.log.flush()  # decisions already made are erased too, not written after
    with kindred.database.write() as session:
        counts = kindred.rights.erase(session, owner.did, requested_by="customer")
    return Json({"erased": owner.did, "removed": counts})


@router.get(
    "/api/v1/data-subjects/{did}/export",
    summary="A customer's data (DSAR, staff)",
    response_model=None,
    responses={200: {"model": SubjectExport, "description": "Everything held about the customer"}},
)
def export_subject(kindred: KindredDep, context: OfficerDep, did: str) -> Json:
    kindred.pdp.log.flush()
    with kindred.database.read() as session:
        return Json(kindred.rights.export(session, did))


@router.post(
    "/api/v1/data-subjects/{did}/erase",
    summary="Erase a customer (staff)",
    response_model=None,
    responses={200: {"model": ErasureResult, "description": "Erased"}},
)
def erase_subject(kindred: KindredDep, context: OfficerDep, did: str, body: EraseBody) -> Json:
    if body.confirm != "erase this customer":
        raise ValidationFailed(
            "confirm with the words 'erase this customer'",
            errors=[field_error("/confirm", "confirmation", "erase this customer")],
        )
    kindred.pdp.log.flush()
    with kindred.database.write() as session:
        counts = kindred.rights.erase(session, did, requested_by="staff")
    return Json({"erased": did, "removed": counts})


# -- provenance, disputes and KPIs --------------------------------------------------------------


def provenance_view(row: Any) -> dict[str, Any]:
    def moment(value: float | None) -> str | None:
        return datetime.fromtimestamp(value, UTC).isoformat() if value is not None else None

    return {
        "field": row.field,
        "source_system": row.source_system,
        "collector": row.collector,
        "collected_at": moment(row.collected_at),
        "valid_until": moment(row.valid_until),
        "expired": row.valid_until is not None and row.valid_until < time.time(),
        "legal_basis": row.legal_basis,
        "verified": row.verified,
        "disputed_at": moment(row.disputed_at),
        "dispute_reason": row.dispute_reason,
    }


class ProvenancePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    source_system: str | None = Field(default=None, max_length=64)
    collector: str | None = Field(default=None, max_length=100)
    valid_until: datetime | None = None
    legal_basis: str | None = None
    verified: bool | None = None


class DisputeBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    dimension: str
    reason: str = Field(min_length=1, max_length=2000)


@router.get(
    "/api/v1/objects/{object_name}/records/{record_id}/provenance",
    summary="Where each value of a record comes from",
    response_model=None,
    responses={200: {"model": ProvenanceList, "description": "Each value's provenance"}},
)
def record_provenance(
    kindred: KindredDep, context: ContextDep, object_name: str, record_id: str
) -> Json:
    with kindred.database.read() as session:
        kindred.records.get(session, context, object_name, record_id, fields=[])
        rows = kindred.provenance.of(session, object_name, record_id)
        return Json({"data": [provenance_view(r) for r in rows]})


@router.patch(
    "/api/v1/objects/{object_name}/records/{record_id}/provenance/{field}",
    summary="Correct or verify a value's provenance",
    response_model=None,
    responses={200: {"model": ProvenancePublic, "description": "The corrected provenance"}},
)
def patch_provenance(
    kindred: KindredDep,
    context: ContextDep,
    object_name: str,
    record_id: str,
    field: str,
    body: ProvenancePatch,
) -> Json:
    changes = body.model_dump(exclude_unset=True)
    if "valid_until" in changes and changes["valid_until"] is not None:
        changes["valid_until"] = _aware(changes["valid_until"]).timestamp()
    with kindred.database.write() as session:
        row = kindred.provenance.update(session, context, object_name, record_id, field, changes)
        return Json(provenance_view(row))


@router.post(
    "/api/v1/passport/disputes",
    status_code=201,
    summary="Dispute a value held about me",
    response_model=None,
    responses={
        201: {
            "model": ProvenancePublic,
            "description": "Disputed: the value is flagged until reviewed",
        }
    },
)
def dispute(kindred: KindredDep, owner: PassportDep, body: DisputeBody) -> Json:
    with kindred.database.write() as session:
        identity = kindred.identities.by_did(session, owner.did)
        row = kindred.provenance.dispute(session, identity, body.dimension, body.reason)
        return Json(provenance_view(row), status_code=201)


@router.get(
    "/api/v1/sovereignty/kpis",
    summary="Tag accuracy, authorization validity, consent rate",
    response_model=None,
    responses={200: {"model": SovereigntyKpis, "description": "The KPIs"}},
)
def kpis(kindred: KindredDep, context: OfficerDep) -> Json:
    kindred.pdp.log.flush()
    with kindred.database.read() as session:
        return Json(kindred.provenance.kpis(session))
