"""MIME → ParsedMail: the text, headers, files and thread ids of one mail. Pure, no I/O.

`parse_mail` never raises. It reads what real mail brings: any charset including
mislabelled ones (charset-normalizer decides when the label is wrong), HTML-only mail
(html2text), raw 8-bit headers and file names, broken MIME (Python's parser records
defects instead of failing; we read what is there), an mbox "From " line or blank lines
before the headers, duplicate and missing fields. Every header is read through one
tolerant layer (`headers`). A mail that still cannot be understood comes back with
`unparseable` set (and its raw text as the body): the worker hands it to a person.
Attachments (and inline images) are kept with their bytes; the worker stores them.
"""
from __future__ import annotations

import datetime as dt
import email
import email.policy
import email.utils
import hashlib
import re
from dataclasses import dataclass, field
from email.message import Message
from typing import Iterator, List, Optional, Sequence, Tuple

from ks1bot.core.email_text import ATTACHED_MARKER
from mail_gateway import headers as h
from mail_gateway.headers import Headers
from mail_gateway.mime_text import decode_text, html_to_text

__all__ = ["Attachment", "ParsedMail", "parse_mail", "header_message_id", "malformed_reason", "message_ids",
           "normalize_message_id", "decode_text", "html_to_text", "compact_base64", "header_offset"]

#: Longest body text kept (characters); the classifier reads far less.
MAX_TEXT_CHARS = 200_000
#: MIME nesting deeper than this is not followed (a mail built to exhaust the stack).
MAX_DEPTH = 30
_HEADER_LINE = re.compile(rb"^[!-9;-~]+[ \t]*:")
_MBOX_FROM = re.compile(rb"^>?From \S*")
#: Header fields that make a block of lines a mail (the SMTP listener refuses the rest).
_ESSENTIAL = (b"from", b"sender", b"subject", b"date", b"message-id", b"to", b"cc", b"reply-to", b"in-reply-to",
              b"references", b"return-path", b"received", b"content-type", b"mime-version", b"delivered-to")
#: Parts of reports that are neither the text nor a file for staff.
_REPORT_PARTS = ("message/delivery-status", "message/disposition-notification", "message/feedback-report",
                 "text/rfc822-headers", "message/global-delivery-status", "message/global-headers")


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    size: int
    #: The decoded bytes (not part of equality or repr: they may be megabytes).
    data: bytes = field(default=b"", repr=False, compare=False)
    #: Shown in the body (an inline image with a Content-ID, say), not attached as a file.
    inline: bool = False


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
    #: Content types of all leaf parts (report parts included), outermost first.
    part_types: Tuple[str, ...] = ()
    #: METHOD of a text/calendar part (REPLY for an accepted/declined invitation), upper-case.
    calendar_method: str = ""
    #: Why the mail could not be understood (no header block, the parser failed), else None.
    unparseable: Optional[str] = None


def header_offset(raw: bytes) -> Optional[int]:
    """Where the header block starts: after blank lines, an mbox "From " line and at most
    two other lines ("---- Original email message ----") before the first header field;
    None when no header field starts within the first eight lines."""
    position, others = 0, 0
    for _ in range(8):
        end = raw.find(b"\n", position)
        line = raw[position:] if end < 0 else raw[position:end]
        if _HEADER_LINE.match(line):
            return position
        if line.strip() and not _MBOX_FROM.match(line):
            others += 1
            if others > 2:
                return None
        if end < 0:
            return None
        position = end + 1
    return None


_OBS_NAME = re.compile(rb"^([!-9;-~]+)[ \t]+:")
_CONTINUATION = re.compile(rb"^[ \t]")


def repair_header_block(raw: bytes, start: int) -> bytes:
    """The mail from `start` with a header block Python's parser reads whole: obsolete
    "Name  :" written "Name:", and stray lines between header fields (a base64 blob
    whose folding lost its indentation, a word before a field name) turned into
    continuation lines, so the fields after them stay headers. Lines after the last
    header field stay body (a missing blank line is added)."""
    end = re.search(rb"\r?\n\r?\n", raw[start:])
    block_end = start + end.start() if end else len(raw)
    lines = raw[start:block_end].split(b"\n")
    fields = [i for i, line in enumerate(lines) if _HEADER_LINE.match(line) or _OBS_NAME.match(line)]
    if not fields:
        return raw[start:]
    last = fields[-1]
    while last + 1 < len(lines) and _CONTINUATION.match(lines[last + 1]):
        last += 1
    changed = False
    out = []
    for i, line in enumerate(lines[:last + 1]):
        if _OBS_NAME.match(line):
            line, changed = _OBS_NAME.sub(rb"\1:", line, count=1), True
        elif not _HEADER_LINE.match(line) and not _CONTINUATION.match(line) and i > 0:
            line, changed = b" " + line, True
        out.append(line)
    if last + 1 < len(lines):  # body lines without the blank line before them
        newline = b"\r\n" if lines[0].endswith(b"\r") else b"\n"
        return b"\n".join(out) + b"\n" + newline + b"\n".join(lines[last + 1:]) + raw[block_end:]
    if not changed:
        return raw[start:]
    return b"\n".join(out) + raw[block_end:]


_B64_CTE = re.compile(rb"(?i)content-transfer-encoding:[ \t]*base64[ \t]*\r?$", re.MULTILINE)
_BLANK_LINE = re.compile(rb"\r?\n\r?\n")
_BASE64_BYTES = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
#: Base64 bodies longer than this are handed to the parser as one line.
COMPACT_BASE64_BYTES = 64 * 1024


def compact_base64(raw: bytes) -> bytes:
    """The mail with each large base64 body on one line. Python's MIME parser handles a
    mail line by line in Python (a 4 MB attachment: 55,000 lines, ~100 ms); a base64
    body decodes the same without its line breaks. Only bodies that are nothing but
    base64 characters are joined, so no text part changes."""
    if len(raw) < COMPACT_BASE64_BYTES:
        return raw
    pieces, position = [], 0
    lowered = raw.lower()
    found = lowered.find(b"content-transfer-encoding", 0)
    while found >= 0:
        line_start = lowered.rfind(b"\n", 0, found) + 1
        match = _B64_CTE.match(raw, line_start)
        found = lowered.find(b"content-transfer-encoding", found + 25)
        if match is None or match.start() < position:
            continue
        blank = _BLANK_LINE.search(raw, match.end())
        if blank is None:
            break
        start = blank.end()
        end = raw.find(b"\n--", start)
        end = len(raw) if end < 0 else end
        if end - start < COMPACT_BASE64_BYTES:
            continue
        joined = raw[start:end].replace(b"\r", b"").replace(b"\n", b"")
        if joined.translate(None, _BASE64_BYTES):
            continue  # not only base64: leave it as it is
        pieces += [raw[position:start], joined, b"\r\n"]
        position = end + 1 if end < len(raw) else end
        if position > found >= 0:
            found = lowered.find(b"content-transfer-encoding", position)
    if not pieces:
        return raw
    pieces.append(raw[position:])
    return b"".join(pieces)


def _header_block(raw: bytes, start: int) -> bytes:
    end = re.search(rb"\r?\n\r?\n", raw[start:])
    return raw[start:start + end.start()] if end else raw[start:start + 65536]


def malformed_reason(raw: bytes) -> Optional[str]:
    """Why these bytes are not an Internet message at all, else None (SMTP answers 5xx)."""
    if not raw or not raw.strip():
        return "the message is empty"
    start = header_offset(raw)
    if start is None:
        return "the message does not start with a header field (Name: value)"
    block = _header_block(raw, start)
    names = {m.group(1).lower() for m in re.finditer(rb"(?m)^([!-9;-~]+)[ \t]*:", block)}
    if not names.intersection(_ESSENTIAL):
        return "the message has none of the header fields From, Sender, To, Subject, Date, Message-ID"
    return None


_MSGID = re.compile(r"<([^<>]+)>")


def _clean_id(inner: str) -> Optional[str]:
    inner = re.sub(r"\s+", "", inner)  # folding inside an id (broken clients)
    return f"<{inner}>" if inner else None


def normalize_message_id(value: str) -> Optional[str]:
    """'<a@b>' from ' <a@b> ', 'a@b' (GroupWise, Notes: no brackets) or a folded value;
    None when there is no id."""
    ids = message_ids(value)
    return ids[0] if ids else None


def message_ids(value: str) -> Tuple[str, ...]:
    """Every id in a Message-ID / References / In-Reply-To value, in order, without
    repeats, always bracketed; unbracketed ids (a@b) count when there are no brackets."""
    value = h.decode(value) if "=?" in (value or "") else (value or "")
    found = [i for i in (_clean_id(m.group(1)) for m in _MSGID.finditer(value)) if i]
    if not found and "<" not in value:
        found = [f"<{token}>" for token in re.split(r"[\s,]+", value.strip())
                 if "@" in token and not token.startswith(("(", '"'))]
    return tuple(dict.fromkeys(found))


def synthetic_message_id(raw: bytes) -> str:
    return f"<sha256-{hashlib.sha256(raw).hexdigest()[:40]}@missing-message-id.invalid>"


def decode_header_value(value: str) -> str:
    """RFC 2047 encoded words and 8-bit bytes → text; never raises."""
    return h.decode(value)


def _payload_bytes(part: Message) -> bytes:
    try:
        payload = part.get_payload(decode=True)
    except Exception:
        payload = None
    if payload is None:
        raw = part.get_payload()
        payload = raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else b""
    return payload


def _part_text(part: Message) -> str:
    return decode_text(_payload_bytes(part), h.content_charset(part))


def _children(part: Message) -> List[Message]:
    try:
        payload = part.get_payload()
    except Exception:
        return []
    return [p for p in payload if isinstance(p, Message)] if isinstance(payload, list) else []


def _leaves(part: Message, depth: int = 0, attached: bool = False,
            alternative: bool = False) -> Iterator[Tuple[Message, str, bool, bool]]:
    """(part, content type, inside an attached message, inside a multipart/alternative)
    for every part that holds content, depth first; an attached message (message/rfc822)
    is yielded itself, then its own parts."""
    ctype = h.content_type(part)
    try:
        multipart = part.is_multipart()
    except Exception:
        multipart = False
    if not multipart or depth >= MAX_DEPTH:
        yield part, ctype, attached, alternative
        return
    if ctype in ("message/rfc822", "message/global"):
        yield part, ctype, attached, alternative
        attached = True
    elif ctype.startswith("message/"):  # a report block (delivery status …): no content of its own
        yield part, ctype, attached, alternative
        return
    alternative = alternative or ctype == "multipart/alternative"
    for child in _children(part):
        yield from _leaves(child, depth + 1, attached, alternative)


def _attached_message(part: Message) -> Attachment:
    children = _children(part)
    inner = children[0] if children else None
    data = b""
    if inner is not None:
        try:
            data = inner.as_bytes(policy=email.policy.compat32)
        except Exception:
            try:
                data = inner.as_string().encode("utf-8", "surrogateescape")
            except Exception:
                data = b""
    name = h.filename(part)
    if not name:
        subject = Headers.of(inner).get("Subject") if inner is not None else ""
        name = (re.sub(r"[^\w .,()-]+", "_", subject).strip()[:80] or "attached-message") + ".eml"
    return Attachment(name, "message/rfc822", len(data), data)


def _calendar_method(part: Message) -> str:
    method = h.param(Headers.of(part).raw("Content-Type"), "method")
    if not method:
        found = re.search(r"(?m)^METHOD:\s*(\S+)", _part_text(part))
        method = found.group(1) if found else ""
    return method.strip().upper()


def extract_body(msg: Message, depth: int = 0) -> Tuple[str, str, Tuple[Attachment, ...], Tuple[str, ...], str]:
    """(text, source, attachments, leaf content types, calendar method).

    The text is the mail's own text/plain parts (joined, in order: Apple Mail splits the
    text around inline images; an inline HTML part that is no alternative of them, like a
    forwarded HTML mail, joins them as text), else its first HTML part as text, and then
    the text of each attached message (a forward as attachment) below `ATTACHED_MARKER`.
    Every other part with content is a file: attachments, inline images, attached
    messages (as .eml)."""
    segments: List[Tuple[str, str, bool]] = []  # (plain|html, text, inside an alternative)
    inner_plain: Optional[str] = None
    inner_html: Optional[str] = None
    attachments: List[Attachment] = []
    forwarded: List[Message] = []
    types: List[str] = []
    method = ""
    for part, ctype, attached, alternative in _leaves(msg):
        types.append(ctype)
        if ctype in ("message/rfc822", "message/global"):
            if not attached:
                attachments.append(_attached_message(part))
                forwarded.extend(_children(part)[:1])
            continue
        if ctype.startswith("multipart/"):
            # a multipart without (usable) boundary: the payload is all there is
            text = _part_text(part)
            if not attached and text.strip() and not segments:
                segments.append(("plain", text, False))
            continue
        if ctype in _REPORT_PARTS:
            continue
        if ctype == "text/calendar":
            method = method or _calendar_method(part)
        disposition = h.disposition(part)
        name = h.filename(part)
        is_file = disposition == "attachment" or (disposition != "inline" and bool(name)) \
            or ctype not in ("text/plain", "text/html")
        if attached:
            if not is_file and ctype == "text/plain" and inner_plain is None:
                inner_plain = _part_text(part)
            elif not is_file and ctype == "text/html" and inner_html is None:
                inner_html = _part_text(part)
            continue
        if is_file:
            data = _payload_bytes(part)
            inline = disposition == "inline" or (disposition == "" and bool(Headers.of(part).raw("Content-ID")))
            attachments.append(Attachment(name or _default_name(ctype, len(attachments) + 1), ctype, len(data), data,
                                          inline=inline))
            continue
        text = _part_text(part)
        if text.strip():
            segments.append(("plain" if ctype == "text/plain" else "html", text, alternative))
    files = tuple(attachments)
    plain = [text for kind, text, _alt in segments if kind == "plain"]
    if plain:
        parts = [text if kind == "plain" else html_to_text(text[: MAX_TEXT_CHARS * 5])
                 for kind, text, alt in segments if kind == "plain" or not alt]
        body, source = "\n\n".join(p.strip("\n") for p in parts if p.strip()), "plain"
    else:
        html = next((text for kind, text, _alt in segments if kind == "html"), None)
        body, source = (html_to_text(html[: MAX_TEXT_CHARS * 5]), "html") if html is not None else ("", "none")
        if not body.strip() and inner_plain and inner_plain.strip():
            body, source, forwarded = inner_plain, "plain", []
        elif not body.strip() and inner_html:
            body, source, forwarded = html_to_text(inner_html[: MAX_TEXT_CHARS * 5]), "html", []
    for inner in forwarded[:3] if depth < 3 else []:
        block = _forwarded_block(inner, depth)
        if block:
            body = f"{body.rstrip()}\n\n{block}" if body.strip() else block
    return body[:MAX_TEXT_CHARS], source, files, tuple(types), method


def _forwarded_block(inner: Message, depth: int) -> str:
    """An attached message as a forward below the text: marker, its header fields, its text."""
    try:
        text = extract_body(inner, depth + 1)[0]
    except Exception:
        return ""
    if not text.strip():
        return ""
    fields = Headers.of(inner)
    lines = [ATTACHED_MARKER]
    for name in ("From", "Date", "Subject", "To"):
        value = fields.get(name)
        if value:
            lines.append(f"{name}: {value}")
    return "\n".join(lines) + "\n\n" + text.strip()


_EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp",
               "application/pdf": "pdf", "text/calendar": "ics", "text/csv": "csv", "text/plain": "txt",
               "text/html": "html", "application/zip": "zip"}


def _default_name(ctype: str, n: int) -> str:
    return f"attachment-{n}.{_EXTENSIONS.get(ctype, 'bin')}"


def _first_address(values: Sequence[str]) -> str:
    for value in values:
        if not value:
            continue
        try:
            pairs = email.utils.getaddresses([value])
        except Exception:
            pairs = []
        for _name, address in pairs:
            if "@" in address and " " not in address.strip():
                return address.strip().strip("<>").lower()
        match = re.search(r"[^\s<>\"',;:()\[\]]+@[^\s<>\"',;:()\[\]]+", value)
        if match:
            return match.group(0).lower()
    return ""


def _date(value: str) -> Optional[dt.datetime]:
    if not value:
        return None
    try:
        date = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if date is not None and date.tzinfo is None:
        date = date.replace(tzinfo=dt.timezone.utc)
    return date


def parse_mail(raw: bytes, envelope_sender: Optional[str] = None, headers_only: bool = False) -> ParsedMail:
    """Parse one mail; never raises. A mail that cannot be understood comes back with
    `unparseable` saying why, its bytes as text in `body`. `headers_only`: read the header
    block and nothing else (for a mail whose reading already failed)."""
    try:
        start = header_offset(raw) if raw and raw.strip() else None
        if start is None:
            reason = "the mail is empty" if not raw or not raw.strip() else \
                "the mail has no header block (no 'Name: value' lines at its start)"
            return _unparseable(raw, envelope_sender, reason)
        if headers_only:
            return _parse(_header_block(raw, start) + b"\r\n\r\n", 0, envelope_sender, raw)
        return _parse(raw, start, envelope_sender)
    except RecursionError:
        return _unparseable(raw, envelope_sender, "the mail's MIME structure is nested too deeply to read")
    except Exception as exc:  # the parser met something nobody foresaw: a person reads it
        return _unparseable(raw, envelope_sender, f"the mail could not be read ({type(exc).__name__}: {exc})")


def _envelope(envelope_sender: Optional[str]) -> str:
    return (envelope_sender or "").strip().strip("<> ").lower()


def _parse(raw: bytes, start: int, envelope_sender: Optional[str], whole: Optional[bytes] = None) -> ParsedMail:
    msg = email.message_from_bytes(compact_base64(repair_header_block(raw, start)), policy=email.policy.compat32)
    raw = raw if whole is None else whole
    fields = Headers.of(msg)
    found_id = normalize_message_id(fields.raw("Message-ID"))
    from_header = fields.get("From")
    from_address = _first_address([from_header])
    envelope = _envelope(envelope_sender)
    return_path = _first_address([fields.get("Return-Path")])
    reply_address = _first_address([fields.get("Reply-To"), from_header, fields.get("Sender")]) or envelope or return_path
    body, source, attachments, types, method = extract_body(msg)
    defects = [type(d).__name__ for d in getattr(msg, "defects", [])]
    for part, _ctype, _attached, _alternative in _leaves(msg):
        if part is not msg:
            defects.extend(type(d).__name__ for d in getattr(part, "defects", []))
    return ParsedMail(
        message_id=found_id or synthetic_message_id(raw),
        has_message_id=found_id is not None,
        sender=from_header or fields.get("Sender") or envelope or return_path,
        reply_address=reply_address,
        from_address=from_address or envelope or return_path,
        subject=fields.get("Subject"),
        date=_date(fields.get("Date")),
        in_reply_to=message_ids(fields.raw("In-Reply-To")),
        references=message_ids(" ".join(v for k, v in fields.fields if k.lower() == "references")),
        body=body,
        body_source=source,
        attachments=attachments,
        headers=fields.decoded(),
        defects=tuple(dict.fromkeys(defects)),
        size=len(raw),
        sha256=hashlib.sha256(raw).hexdigest(),
        part_types=types,
        calendar_method=method,
    )


def _unparseable(raw: bytes, envelope_sender: Optional[str], reason: str) -> ParsedMail:
    """What we know of a mail nobody can read: its bytes as text, the envelope sender."""
    data = raw or b""
    try:
        message_id = header_message_id(data)[0]
    except Exception:
        message_id = synthetic_message_id(data)
    envelope = _envelope(envelope_sender)
    try:
        text = decode_text(data[: MAX_TEXT_CHARS], None)
    except Exception:
        text = data[: MAX_TEXT_CHARS].decode("utf-8", "replace")
    return ParsedMail(
        message_id=message_id, has_message_id=not message_id.endswith("@missing-message-id.invalid>"),
        sender=envelope, reply_address=envelope, from_address=envelope, subject="", date=None, in_reply_to=(),
        references=(), body=text, body_source="raw", attachments=(), headers=(), defects=(), size=len(data),
        sha256=hashlib.sha256(data).hexdigest(), unparseable=reason)


def header_message_id(raw: bytes) -> Tuple[str, str]:
    """(Message-ID or a synthetic one from the bytes, sha256) from the header block only —
    cheap enough for the SMTP conversation. The same id `parse_mail` finds."""
    start = header_offset(raw) if raw else None
    found = None
    if start is not None:
        head = _header_block(raw, start)
        match = re.search(rb"(?im)^message-id[ \t]*:[ \t]*((?:.*)(?:\r?\n[ \t].*)*)", head)
        if match:
            found = normalize_message_id(h.text(match.group(1)))
    return found or synthetic_message_id(raw), hashlib.sha256(raw).hexdigest()
