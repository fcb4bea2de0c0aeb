"""Reply composition: threaded, marked as automatic (RFC 3834), text and HTML. Pure."""
from __future__ import annotations

import datetime as dt
import hashlib
import html
import re
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from typing import Tuple

from ks1bot.core.text import strip_reply_prefix
from mail_gateway.threads import references_for_reply

_EMPTY_SUBJECT = {"de": "Ihre Nachricht", "en": "Your message"}
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class ReplyTo:
    """The mail being answered."""

    message_id: str
    references: Tuple[str, ...]
    subject: str
    address: str


def reply_subject(subject: str, language: str = "de") -> str:
    """'Re: ' once: 'AW: Re: Frage' → 'Re: Frage'; an empty subject gets a neutral one."""
    base = strip_reply_prefix(_SPACE.sub(" ", subject or "").strip())
    return f"Re: {base or _EMPTY_SUBJECT.get(language, _EMPTY_SUBJECT['de'])}"


def reply_message_id(parent_message_id: str, domain: str, kind: str = "auto") -> str:
    """Our Message-ID for the reply to `parent_message_id`: derived from it, so composing
    the same reply twice (after a crash) yields the same id, and the queue's unique key
    stops a second copy."""
    digest = hashlib.sha256(f"{kind}\0{parent_message_id}".encode("utf-8")).hexdigest()[:32]
    return f"<ks1.{kind}.{digest}@{domain}>"


def staff_message_id(outbox_id: int, conversation_id: str, queued_at: dt.datetime, domain: str) -> str:
    """Our Message-ID for a staff reply: derived from its outbox row (id, conversation,
    time it was queued), so handing the same row over again after a crash yields the
    same id, which the queue's unique key stops from being sent twice."""
    key = f"staff\0{outbox_id}\0{conversation_id}\0{queued_at.isoformat()}"
    return f"<ks1.staff.{hashlib.sha256(key.encode('utf-8')).hexdigest()[:32]}@{domain}>"


def text_to_html(text: str, language: str = "de") -> str:
    paragraphs = [p for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    body = "\n".join(
        "<p>" + "<br>\n".join(html.escape(line) for line in p.splitlines()) + "</p>" for p in paragraphs
    )
    return (
        f'<!DOCTYPE html>\n<html lang="{html.escape(language)}"><head><meta charset="utf-8"></head>'
        f"<body>\n{body}\n</body></html>\n"
    )


def _address(display: str, address: str) -> Address:
    local, _, domain = address.partition("@")
    return Address(display_name=display, username=local, domain=domain)


def compose_reply(
    parent: ReplyTo,
    text: str,
    *,
    language: str,
    from_address: str,
    from_name: str,
    message_id: str,
    date: dt.datetime,
    automatic: bool = True,
) -> EmailMessage:
    """The reply as a MIME message: In-Reply-To, References, 'Re: ' subject, our own
    Message-ID, multipart/alternative (text and HTML), Content-Language; automatic replies
    carry Auto-Submitted: auto-replied and ask Exchange not to auto-answer them."""
    msg = EmailMessage(policy=SMTP)
    msg["From"] = _address(from_name, from_address)
    msg["To"] = parent.address
    msg["Subject"] = reply_subject(parent.subject, language)
    msg["Date"] = format_datetime(date.astimezone(dt.timezone.utc))
    msg["Message-ID"] = message_id
    msg["In-Reply-To"] = parent.message_id
    msg["References"] = " ".join(references_for_reply(parent.message_id, parent.references))
    if automatic:
        msg["Auto-Submitted"] = "auto-replied"
        msg["X-Auto-Response-Suppress"] = "All"
    msg.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    msg.add_alternative(text_to_html(text, language), subtype="html", charset="utf-8", cte="quoted-printable")
    msg["Content-Language"] = language  # after set_content, which drops Content-* headers
    return msg


def to_bytes(msg: EmailMessage) -> bytes:
    return msg.as_bytes(policy=SMTP)
