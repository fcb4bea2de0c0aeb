"""Reply composition: threaded, marked as automatic (RFC 3834), text and HTML, with
staff attachments. Pure.

Message-ID, In-Reply-To and References are written as they are, never RFC 2047-encoded:
the email package's folding encodes a token longer than the line (Exchange Online ids
are 120+ characters), and an encoded id threads nowhere. They are set raw, folded only
between ids, with a policy that leaves raw fields alone (`ID_SAFE`)."""
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
from typing import Iterable, Sequence, Tuple

from ks1bot.core.text import strip_reply_prefix
from mail_gateway.threads import references_for_reply

_EMPTY_SUBJECT = {"de": "Ihre Nachricht", "en": "Your message"}
#: SMTP's policy, but fields set raw are written as given (the id fields below).
ID_SAFE = SMTP.clone(refold_source="none")
_ID = re.compile(r"<[!-;=?-~]+>")  # printable ASCII without < > and spaces, in brackets
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


def writable_ids(ids: Iterable[str]) -> Tuple[str, ...]:
    """The ids that can be written into a header as they are (ASCII, bracketed, no
    spaces); an id a broken client mangled with non-ASCII bytes cannot thread anyway."""
    return tuple(i for i in dict.fromkeys(ids) if _ID.fullmatch(i or ""))


def fold_ids(name: str, ids: Sequence[str], width: int = 78) -> str:
    """The value of an id field, folded only between ids (never inside one)."""
    lines, current = [], len(name) + 1
    line = ""
    for mid in ids:
        if line and current + 1 + len(mid) > width:
            lines.append(line)
            line, current = mid, 1 + len(mid)
        else:
            line = f"{line} {mid}" if line else mid
            current += 1 + len(mid)
    lines.append(line)
    return "\n ".join(lines)


def set_id_field(msg: EmailMessage, name: str, ids: Sequence[str]) -> None:
    """Message-ID / In-Reply-To / References, raw (see the module docstring)."""
    ids = writable_ids(ids)
    if ids:
        del msg[name]
        msg.set_raw(name, fold_ids(name, ids))


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
    attachments: Sequence[Tuple[str, str, bytes]] = (),
) -> EmailMessage:
    """The reply as a MIME message: In-Reply-To, References, 'Re: ' subject, our own
    Message-ID, multipart/alternative (text and HTML), Content-Language; automatic replies
    carry Auto-Submitted: auto-replied and ask Exchange not to auto-answer them.
    `attachments`: (file name, content type, bytes) of files staff attached; the mail
    becomes multipart/mixed with them after the text."""
    msg = EmailMessage(policy=SMTP)
    msg["From"] = _address(from_name, from_address)
    msg["To"] = parent.address
    msg["Subject"] = reply_subject(parent.subject, language)
    msg["Date"] = format_datetime(date.astimezone(dt.timezone.utc))
    set_id_field(msg, "Message-ID", [message_id])
    set_id_field(msg, "In-Reply-To", [parent.message_id])
    set_id_field(msg, "References", references_for_reply(parent.message_id, parent.references))
    if automatic:
        msg["Auto-Submitted"] = "auto-replied"
        msg["X-Auto-Response-Suppress"] = "All"
    msg.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    msg.add_alternative(text_to_html(text, language), subtype="html", charset="utf-8", cte="quoted-printable")
    for name, content_type, data in attachments:
        maintype, _, subtype = (content_type or "application/octet-stream").partition("/")
        if maintype == "text" or maintype == "multipart" or not subtype:
            maintype, subtype = "application", "octet-stream"  # sent as the bytes they are
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    msg["Content-Language"] = language  # last: set_content and make_mixed move Content-* headers
    return msg


def to_bytes(msg: EmailMessage) -> bytes:
    return msg.as_bytes(policy=ID_SAFE)
