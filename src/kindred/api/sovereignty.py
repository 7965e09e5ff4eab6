"""Identity and passport sign-in endpoints: DID documents (public, as DID resolution is),
a customer record's DID (staff), and the customer's sign-in to their data passport by DID
signature or magic link. Thin: everything else in ``kindred.sovereignty``."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header
from pydantic import BaseModel, ConfigDict, Field

from kindred.api.deps import ContextDep, KindredDep
from kindred.api.responses import Json
from kindred.errors import NotFound, Unauthenticated, ValidationFailed, field_error
from kindred.scenarios.messaging import SmtpSettings, send_email
from kindred.sovereignty.passport import PassportRefused, PassportSession

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


@router.get("/.well-known/did.json", summary="The enterprise's did:web document")
def enterprise_document(kindred: KindredDep) -> Json:
    with kindred.database.write() as session:  # the first call creates the key
        return Json(kindred.identities.web_document(session))


@router.get("/domains/{domain}/did.json", summary="A data domain's did:web document")
def domain_document(kindred: KindredDep, domain: str) -> Json:
    with kindred.database.write() as session:
        return Json(kindred.identities.web_document(session, domain))


@router.get("/api/v1/dids/{did}", summary="Resolve a did:key or one of this deployment's did:web")
def resolve(kindred: KindredDep, did: str) -> Json:
    with kindred.database.write() as session:
        return Json(kindred.identities.resolve(session, did))


@router.get(
    "/api/v1/objects/{object_name}/records/{record_id}/did", summary="A customer record's DID"
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


@router.post("/api/v1/passport/challenge", status_code=201, summary="A challenge to sign")
def challenge(kindred: KindredDep, body: ChallengeRequest) -> Json:
    with kindred.database.write() as session:
        nonce, expires, text = kindred.passport.challenge(session, body.did)
    return Json({"challenge": nonce, "expires_at": expires, "sign": text}, status_code=201)


@router.post("/api/v1/passport/session", status_code=201, summary="Sign in to the passport")
def open_session(kindred: KindredDep, body: SessionRequest) -> Json:
    if body.magic_link is not None:
        if body.did or body.challenge or body.signature:
            raise ValidationFailed(
                "send either a magic link or a DID with a signed challenge, not both",
                errors=[
                    field_error("magic_link", "exclusive", "alone, or did+challenge+signature")
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
                errors=[field_error(n, "required", "needed to sign in by DID") for n in missing],
            )
        did, nonce, signature = str(body.did), str(body.challenge), str(body.signature)

        def step() -> Any:
            return kindred.passport.sign_in_with_signature(session, did, nonce, signature)

    with kindred.database.write() as session:
        outcome = kindred.passport.attempt(session, step)
    if isinstance(outcome, PassportRefused):
        raise outcome  # raised after the commit: the attempt used its challenge up
    token, owner = outcome
    return Json(
        {"token": token, "did": owner.did, "via": owner.via, "expires_in": 900}, status_code=201
    )


@router.post("/api/v1/passport/magic-link", status_code=202, summary="Email a sign-in link")
async def magic_link(kindred: KindredDep, body: MagicLinkRequest) -> Json:
    """Always 202 with the same body: whether the address is known is not revealed."""
    found = await asyncio.to_thread(_magic_link_for, kindred, body.email)
    if found is not None:
        token, address = found
        settings = kindred.settings
        link = f"https://{settings.public_host}/passport?token={token}"
        await send_email(
            SmtpSettings(
                host=settings.smtp_host,
                port=settings.smtp_port,
                sender=settings.smtp_sender,
                username=settings.smtp_username,
                password=settings.smtp_password,
                starttls=settings.smtp_starttls,
            ),
            to=[address],
            subject="Your Kindred data passport sign-in link",
            text=(
                "Open this link within 15 minutes to see and manage the data held about you:\n"
                f"{link}\n\nIf you did not ask for it, ignore this message."
            ),
        )
    return Json({"status": "if the address belongs to a customer, a link is on its way"}, 202)


def _magic_link_for(kindred: Any, email: str) -> tuple[str, str] | None:
    from kindred.auth.permissions import SYSTEM_PRINCIPAL
    from kindred.records.service import RequestContext

    system = RequestContext(SYSTEM_PRINCIPAL, purpose="passport-sign-in")
    with kindred.database.write() as session:
        for object_name in kindred.settings.customer_objects:
            record = kindred.scenarios.find_record(
                session, system, object_name, None, {"email": email}
            )
            if record is None:
                continue
            try:
                identity = kindred.identities.of_subject(session, object_name, record["id"])
            except NotFound:
                continue
            if identity.custody != "custodial":
                return None
            return kindred.passport.magic_link(session, identity.did), str(record["email"])
    return None


def passport_session(
    kindred: KindredDep, authorization: Annotated[str | None, Header()] = None
) -> PassportSession:
    """The signed-in customer (``Authorization: Bearer <passport token>``)."""
    if not authorization or not authorization.lower().startswith("bearer "):
        raise Unauthenticated("sign in to the passport: POST /api/v1/passport/session")
    with kindred.database.read() as session:
        return kindred.passport.session_from_token(session, authorization[7:].strip())


PassportDep = Annotated[PassportSession, Depends(passport_session)]


@router.get("/api/v1/passport/me", summary="Who is signed in to the passport")
def me(owner: PassportDep) -> Json:
    return Json(
        {
            "did": owner.did,
            "subject": {"object": owner.subject_object, "id": owner.subject_id},
            "via": owner.via,
        }
    )
