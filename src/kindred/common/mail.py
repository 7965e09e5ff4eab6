"""Sending e-mail over SMTP, shared by scenario steps and passport sign-in links.

Every failure becomes one :class:`~kindred.common.failures.ActionFailed` whose ``retryable``
flag says whether sending again can help: an unreachable, silent or deferring server is
retryable; a bad address, a refused recipient or refused credentials are not. A caller that
retries passes the same ``message_id`` each time, so receivers can drop the duplicate.
"""

from __future__ import annotations

import asyncio
import email.utils
import re
import smtplib
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from typing import Any, NoReturn

from kindred.common.failures import ActionFailed


@dataclass(frozen=True)
class SmtpSettings:
    host: str = "127.0.0.1"
    port: int = 25
    sender: str = "kindred@localhost"
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    timeout: float = 10.0

    @classmethod
    def from_settings(cls, settings: Any) -> SmtpSettings:
        """The deployment's SMTP settings (``KINDRED_SMTP_*``)."""
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port,
            sender=settings.smtp_sender,
            username=settings.smtp_username,
            password=settings.smtp_password,
            starttls=settings.smtp_starttls,
        )


_DOMAIN_LABEL = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
# 7-bit transfer encodings (base64/quoted-printable) for the bodies: any server relays them,
# 8BITMIME or not.
SMTP_POLICY = SMTP.clone(cte_type="7bit")
_HEADER_NAME = re.compile(r"^[!-9;-~]+$")  # printable ASCII without ":" (RFC 5322 ftext)
_MESSAGE_ID = re.compile(r"^<?([!-;=?-~]+@[!-;=?-~]+)>?$")  # no spaces, "<" or ">" inside
# Headers the message builds itself; letting ``headers`` set them would produce duplicates.
_RESERVED_HEADERS = frozenset(
    {
        "from",
        "to",
        "cc",
        "bcc",
        "subject",
        "message-id",
        "date",
        "mime-version",
        "content-type",
        "content-transfer-encoding",
    }
)


def _invalid(detail: str) -> NoReturn:
    raise ActionFailed(detail, retryable=False, code="email-invalid")


def _address(value: Any, what: str) -> str:
    """A bare addr-spec (``user@example.com``), with an internationalised domain converted
    to its ASCII (IDNA) form so any SMTP server accepts it."""
    how = "give a bare address like someone@example.com"
    if not isinstance(value, str):
        _invalid(f"the {what} must be a string, got {type(value).__name__}; {how}")
    text = value.strip()
    if not text or len(text) > 254 or any(c in text for c in "\r\n\0"):
        _invalid(f"the {what} {value!r} is not an e-mail address; {how}")
    try:
        parsed = Address(addr_spec=text)
    except Exception:
        _invalid(f"the {what} {value!r} is not an e-mail address; {how}")
    if not parsed.username or not parsed.domain:
        _invalid(f"the {what} {value!r} is not an e-mail address; {how}")
    domain = parsed.domain
    if not domain.startswith("["):
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            _invalid(f"the {what} {value!r} has an invalid domain; {how}")
        if not all(_DOMAIN_LABEL.match(label) for label in domain.split(".")):
            _invalid(f"the {what} {value!r} has an invalid domain; {how}")
    return Address(username=parsed.username, domain=domain).addr_spec


def _message_id(message_id: str | None, sender: str) -> str:
    if message_id is None:
        return email.utils.make_msgid(domain=sender.rpartition("@")[2])
    matched = _MESSAGE_ID.match(message_id.strip()) if isinstance(message_id, str) else None
    if matched is None:
        _invalid(
            f"the message id {message_id!r} is not a Message-ID; use <unique@domain> "
            "(derive it from the scenario run and step so retries reuse it)"
        )
    return f"<{matched.group(1)}>"


def _build_message(
    settings: SmtpSettings,
    *,
    to: Sequence[str],
    subject: str,
    text: str,
    html: str | None,
    message_id: str | None,
    headers: Mapping[str, str] | None,
) -> tuple[EmailMessage, str, list[str], str]:
    if isinstance(to, str):
        to = [to]  # a lone string would otherwise be iterated character by character
    if not to:
        _invalid("the message has no recipients; give at least one address in 'to'")
    sender = _address(settings.sender, "sender address")
    recipients = list(dict.fromkeys(_address(each, "recipient address") for each in to))
    if any(c in subject for c in "\r\n"):
        _invalid("the subject must be a single line (it contains a line break)")
    mid = _message_id(message_id, sender)

    message = EmailMessage(policy=SMTP_POLICY)
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Subject"] = subject
    message["Date"] = email.utils.formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = mid
    for name, value in (headers or {}).items():
        if not isinstance(name, str) or not _HEADER_NAME.match(name):
            _invalid(f"the header name {name!r} is not valid; use printable ASCII without ':'")
        if name.lower() in _RESERVED_HEADERS:
            _invalid(f"the header {name!r} is set by the e-mail action itself; leave it out")
        if not isinstance(value, str) or any(c in value for c in "\r\n\0"):
            _invalid(f"the value of header {name!r} must be a single-line string")
        message[name] = value
    message.set_content(text, charset="utf-8")
    if html is not None:
        message.add_alternative(html, subtype="html", charset="utf-8")
    return message, sender, recipients, mid


def _smtp_reply(code: int, reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return f"{code} {text}".strip()


def _smtp_failed(code: int, reply: bytes | str, what: str) -> NoReturn:
    if 400 <= code < 500:
        raise ActionFailed(
            f"the SMTP server deferred {what}: {_smtp_reply(code, reply)}; try again later",
            retryable=True,
            code="smtp-deferred",
        ) from None
    raise ActionFailed(
        f"the SMTP server refused {what}: {_smtp_reply(code, reply)}",
        retryable=False,
        code="smtp-refused",
    ) from None


def _send_blocking(
    settings: SmtpSettings, message: EmailMessage, sender: str, recipients: list[str]
) -> dict[str, tuple[int, bytes]]:
    where = f"{settings.host}:{settings.port}"
    try:
        with smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout) as client:
            if settings.starttls:
                client.starttls(context=ssl.create_default_context())
            if settings.username is not None:
                client.login(settings.username, settings.password or "")
            return client.send_message(message, from_addr=sender, to_addrs=recipients)
    except smtplib.SMTPRecipientsRefused as error:
        codes = [code for code, _ in error.recipients.values()]
        listed = "; ".join(
            f"{rcpt}: {_smtp_reply(code, reply)}"
            for rcpt, (code, reply) in error.recipients.items()
        )
        temporary = any(400 <= code < 500 for code in codes)
        raise ActionFailed(
            f"the SMTP server refused every recipient ({listed})",
            retryable=temporary,
            code="smtp-deferred" if temporary else "smtp-refused",
        ) from None
    except smtplib.SMTPSenderRefused as error:
        _smtp_failed(error.smtp_code, error.smtp_error, f"the sender {error.sender}")
    except smtplib.SMTPAuthenticationError as error:
        _smtp_failed(error.smtp_code, error.smtp_error, f"the login for {settings.username!r}")
    except smtplib.SMTPResponseException as error:  # HELO, DATA, STARTTLS, … replies
        _smtp_failed(error.smtp_code, error.smtp_error, "the message")
    except smtplib.SMTPNotSupportedError as error:
        raise ActionFailed(
            f"the SMTP server at {where} lacks a needed extension: {error}",
            retryable=False,
            code="smtp-unsupported",
        ) from None
    except ssl.SSLError as error:
        # Certificate and protocol mismatches are configuration problems; they do not heal.
        raise ActionFailed(
            f"TLS with the SMTP server at {where} failed: {error}",
            retryable=False,
            code="smtp-tls",
        ) from None
    except smtplib.SMTPServerDisconnected as error:
        if isinstance(error.__context__, TimeoutError):  # smtplib wraps read timeouts
            raise ActionFailed(
                f"the SMTP server at {where} did not answer within {settings.timeout} s",
                retryable=True,
                code="timeout",
            ) from None
        raise ActionFailed(
            f"the SMTP server at {where} closed the connection: {error}",
            retryable=True,
            code="smtp-unreachable",
        ) from None
    except TimeoutError:
        raise ActionFailed(
            f"the SMTP server at {where} did not answer within {settings.timeout} s",
            retryable=True,
            code="timeout",
        ) from None
    except smtplib.SMTPException as error:
        raise ActionFailed(
            f"SMTP with {where} failed: {error}", retryable=False, code="smtp-error"
        ) from None
    except OSError as error:  # refused, unreachable, DNS failure, reset
        raise ActionFailed(
            f"cannot reach the SMTP server at {where}: {error}",
            retryable=True,
            code="smtp-unreachable",
        ) from None


async def send_email(
    settings: SmtpSettings,
    *,
    to: Sequence[str],
    subject: str,
    text: str,
    html: str | None = None,
    message_id: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Send one UTF-8 message (plain text, plus an HTML alternative when given) over SMTP.

    Addresses and headers are checked before connecting. ``message_id`` (``<x@y>``; the
    brackets are added when missing) becomes the Message-ID, so a retried step sends the
    same id and receivers can drop the duplicate. Returns ``{"message_id", "accepted",
    "refused"}``; ``refused`` lists recipients the server turned down while accepting others.
    """
    message, sender, recipients, mid = _build_message(
        settings,
        to=to,
        subject=subject,
        text=text,
        html=html,
        message_id=message_id,
        headers=headers,
    )
    refused = await asyncio.to_thread(_send_blocking, settings, message, sender, recipients)
    return {
        "message_id": mid,
        "accepted": [rcpt for rcpt in recipients if rcpt not in refused],
        "refused": {rcpt: _smtp_reply(code, reply) for rcpt, (code, reply) in refused.items()},
    }
