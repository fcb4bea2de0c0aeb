"""MIME → ParsedMail: the text, headers and thread ids of one mail. Pure, no I/O.

Robust against what real mail brings: any charset including mislabelled ones
(charset-normalizer decides when the label is wrong), HTML-only mail (html2text),
8-bit headers, broken MIME (Python's parser records defects instead of failing; we
read what is there). Attachments are listed, not classified.
"""
from __future__ import annotations

import codecs
import datetime as dt
import email
import email.header
import email.policy
import email.utils
import hashlib
import re
from dataclasses import dataclass
from email.message import Message
from typing import List, Optional, Sequence, Tuple

from mail_gateway.errors import MalformedMail

#: Longest body text kept (characters); the classifier reads far less.
MAX_TEXT_CHARS = 200_000
_HEADER_LINE = re.compile(rb"^[!-9;-~]+[ \t]*:")
_MSGID = re.compile(r"<[^<>\s]+>")
_ESSENTIAL = (b"from", b"sender", b"subject", b"date", b"message-id", b"to")
WESTERN_CODEPAGES = ["cp1252", "iso8859_15", "iso8859_1", "cp850", "mac_roman", "utf_16", "iso8859_2", "cp1250"]
#: Labels that often stand on UTF-8 text by mistake (every byte sequence "decodes").
_SINGLE_BYTE_CODECS = {"iso8859-1", "cp1252", "ascii", "iso8859-15"}


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    size: int


@dataclass(frozen=True)
class ParsedMail:
    message_id: str
    #: False when the mail had no Message-ID and `message_id` is made from its bytes.
    has_message_id: bool
    sender: str
    #: Lower-case address replies go to (Reply-To, else From, else Sender or the
    #: envelope sender); "" when there is none.
    reply_address: str
    from_address: str
    subject: str
    date: Optional[dt.datetime]
    in_reply_to: Tuple[str, ...]
    references: Tuple[str, ...]
    body: str
    #: "plain", "html" or "none": where the body text came from.
    body_source: str
    attachments: Tuple[Attachment, ...]
    headers: Tuple[Tuple[str, str], ...]
    defects: Tuple[str, ...]
    size: int
    sha256: str


def malformed_reason(raw: bytes) -> Optional[str]:
    """Why these bytes are not an Internet message at all, else None (SMTP answers 5xx)."""
    if not raw or not raw.strip():
        return "the message is empty"
    head = raw.lstrip(b"\r\n")
    first = head.split(b"\n", 1)[0]
    if not _HEADER_LINE.match(first):
        return "the message does not start with a header field (Name: value)"
    end = re.search(rb"\r?\n\r?\n", head)
    header_block = head[: end.start()] if end else head
    names = {m.group(1).lower() for m in re.finditer(rb"(?m)^([!-9;-~]+)[ \t]*:", header_block)}
    if not names.intersection(_ESSENTIAL):
        return "the message has none of the header fields From, Sender, To, Subject, Date, Message-ID"
    return None


def normalize_message_id(value: str) -> Optional[str]:
    """'<a@b>' from ' <a@b> ' or 'a@b'; None when there is no id."""
    found = _MSGID.findall(value or "")
    if found:
        return found[0]
    text = (value or "").strip()
    if text and "@" in text and not re.search(r"\s", text):
        return f"<{text}>"
    return None


def message_ids(value: str) -> Tuple[str, ...]:
    """Every <id> in a References / In-Reply-To value, in order, without repeats."""
    return tuple(dict.fromkeys(_MSGID.findall(value or "")))


def synthetic_message_id(raw: bytes) -> str:
    return f"<sha256-{hashlib.sha256(raw).hexdigest()[:40]}@missing-message-id.invalid>"


def _fix_8bit(text: str) -> str:
    """Header text with raw 8-bit bytes (surrogate-escaped by the parser) decoded:
    UTF-8 when it is valid UTF-8, else Windows-1252."""
    if not any("\udc80" <= ch <= "\udcff" for ch in text):
        return text
    data = text.encode("utf-8", "surrogateescape")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", "replace")


def decode_header_value(value: str) -> str:
    """RFC 2047 encoded words and 8-bit bytes → text; never raises."""
    value = _fix_8bit(str(value))
    try:
        parts = email.header.decode_header(value)
    except Exception:  # broken encoded words: keep the raw text
        return " ".join(value.split())
    out: List[str] = []
    for chunk, charset in parts:
        if isinstance(chunk, bytes):
            out.append(decode_text(chunk, charset))
        else:
            out.append(chunk)
    # decode_header drops the whitespace between encoded and plain words inconsistently
    text = "".join(out) if any(isinstance(c, bytes) for c, _ in parts) else value
    return " ".join(text.split())


def _codec(name: Optional[str]) -> Optional[str]:
    if not name:
        return None
    try:
        return codecs.lookup(name.strip().strip('"').lower()).name
    except (LookupError, ValueError):
        return None


def decode_text(payload: bytes, declared: Optional[str]) -> str:
    """Bytes of a text part → str. The declared charset is trusted only when it decodes
    cleanly and is not a single-byte label on valid non-ASCII UTF-8 (the common
    mislabelling); otherwise charset-normalizer decides."""
    if not payload:
        return ""
    codec = _codec(declared)
    if codec in _SINGLE_BYTE_CODECS and not payload.isascii():
        try:
            return payload.decode("utf-8")
        except UnicodeDecodeError:
            pass
    if codec:
        try:
            return payload.decode(codec)
        except (UnicodeDecodeError, LookupError):
            pass
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    # The mailbox is German and English: the Western codepages first (short texts
    # otherwise fit exotic ones as well), then anything.
    sample = payload[:200_000]
    best = from_bytes(sample, cp_isolation=WESTERN_CODEPAGES).best() or from_bytes(sample).best()
    if best is not None:
        try:
            return payload.decode(best.encoding)
        except (UnicodeDecodeError, LookupError):
            return str(best)
    return payload.decode("cp1252", "replace")


def html_to_text(html: str) -> str:
    import html2text

    converter = html2text.HTML2Text()
    converter.body_width = 0
    converter.ignore_images = True
    converter.ignore_emphasis = True
    converter.ignore_tables = True
    converter.ignore_links = False
    converter.inline_links = False
    converter.unicode_snob = True
    try:
        text = converter.handle(html)
    except Exception:  # html2text on pathological markup: strip the tags instead
        text = re.sub(r"<[^>]+>", " ", html)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _is_attachment(part: Message) -> bool:
    disposition = (part.get("Content-Disposition") or "").split(";")[0].strip().lower()
    return disposition == "attachment" or (disposition != "inline" and bool(part.get_filename()))


def _part_text(part: Message) -> str:
    try:
        payload = part.get_payload(decode=True)
    except Exception:
        payload = None
    if payload is None:
        raw = part.get_payload()
        payload = raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else b""
    try:
        declared = part.get_content_charset()
    except Exception:
        declared = None
    return decode_text(payload, declared)


def _content_type(part: Message) -> str:
    try:
        return part.get_content_type()
    except Exception:
        return "text/plain"


def _walk(msg: Message):
    try:
        yield from msg.walk()
    except Exception:
        yield msg


def extract_body(msg: Message) -> Tuple[str, str, Tuple[Attachment, ...]]:
    """(text, source, attachments): the first text/plain part, else the first HTML part as
    text; attachments (also inline files with a name) are listed."""
    plain: Optional[str] = None
    html: Optional[str] = None
    attachments: List[Attachment] = []
    for part in _walk(msg):
        ctype = _content_type(part)
        if part.is_multipart():
            continue
        if ctype.startswith("multipart/"):
            # a multipart without (usable) boundary: the payload is all there is
            text = _part_text(part)
            if plain is None and text.strip():
                plain = text
            continue
        if _is_attachment(part):
            try:
                size = len(part.get_payload(decode=True) or b"")
            except Exception:
                size = len(str(part.get_payload()))
            name = decode_header_value(part.get_filename() or "") or "(no name)"
            attachments.append(Attachment(name, ctype, size))
            continue
        if ctype == "text/plain" and plain is None:
            text = _part_text(part)
            if text.strip():
                plain = text
        elif ctype == "text/html" and html is None:
            html = _part_text(part)
    if plain is not None:
        return plain[:MAX_TEXT_CHARS], "plain", tuple(attachments)
    if html is not None:
        return html_to_text(html[: MAX_TEXT_CHARS * 5])[:MAX_TEXT_CHARS], "html", tuple(attachments)
    return "", "none", tuple(attachments)


def _first_address(values: Sequence[str]) -> str:
    for value in values:
        if not value:
            continue
        try:
            pairs = email.utils.getaddresses([value])
        except Exception:
            pairs = []
        for _name, address in pairs:
            if "@" in address:
                return address.strip().lower()
        match = re.search(r"[^\s<>\"',;:]+@[^\s<>\"',;:]+", value)
        if match:
            return match.group(0).lower()
    return ""


def parse_mail(raw: bytes, envelope_sender: Optional[str] = None) -> ParsedMail:
    """Parse one mail. Raises MalformedMail only when the bytes are not a message at all."""
    reason = malformed_reason(raw)
    if reason:
        raise MalformedMail(reason)
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    headers: List[Tuple[str, str]] = []
    for name, value in msg.raw_items():  # raw: 8-bit bytes are still there to decode
        headers.append((str(name), decode_header_value(str(value))))

    def get(name: str) -> str:
        lowered = name.lower()
        for key, value in headers:
            if key.lower() == lowered:
                return value
        return ""

    found_id = normalize_message_id(get("Message-ID"))
    sha = hashlib.sha256(raw).hexdigest()
    from_header = get("From")
    from_address = _first_address([from_header])
    envelope = (envelope_sender or "").strip("<> ").lower()
    return_path = get("Return-Path").strip("<> ").lower()
    reply_address = _first_address([get("Reply-To"), from_header, get("Sender")]) or envelope or return_path
    try:
        date = email.utils.parsedate_to_datetime(get("Date")) if get("Date") else None
        if date is not None and date.tzinfo is None:
            date = date.replace(tzinfo=dt.timezone.utc)
    except (TypeError, ValueError, IndexError, OverflowError):
        date = None
    body, source, attachments = extract_body(msg)
    defects = [type(d).__name__ for d in getattr(msg, "defects", [])]
    for part in _walk(msg):
        if part is not msg:
            defects.extend(type(d).__name__ for d in getattr(part, "defects", []))
    return ParsedMail(
        message_id=found_id or synthetic_message_id(raw),
        has_message_id=found_id is not None,
        sender=from_header or get("Sender") or envelope or return_path,
        reply_address=reply_address,
        from_address=from_address or envelope or return_path,
        subject=get("Subject"),
        date=date,
        in_reply_to=message_ids(get("In-Reply-To")),
        references=message_ids(get("References")),
        body=body,
        body_source=source,
        attachments=attachments,
        headers=tuple(headers),
        defects=tuple(dict.fromkeys(defects)),
        size=len(raw),
        sha256=sha,
    )


def header_message_id(raw: bytes) -> Tuple[str, str]:
    """(Message-ID or a synthetic one from the bytes, sha256) from the header block only —
    cheap enough for the SMTP conversation."""
    end = re.search(rb"\r?\n\r?\n", raw)
    head = raw[: end.start()] if end else raw[:65536]
    match = re.search(rb"(?im)^message-id[ \t]*:[ \t]*((?:.*)(?:\r?\n[ \t].*)*)", head)
    found = normalize_message_id(match.group(1).decode("utf-8", "replace")) if match else None
    return found or synthetic_message_id(raw), hashlib.sha256(raw).hexdigest()
