"""The one tolerant layer through which the gateway reads header fields. Pure; never raises.

Real mail brings header values that the standard library hands back in shapes code does
not expect: raw 8-bit bytes (`email` keeps them as surrogate escapes, and compat32's
`Message.get` then returns an `email.header.Header` object instead of a str), broken
RFC 2047 encoded words, fields that occur twice, fields folded in odd places,
`Content-Disposition` spelt in many ways, RFC 2231 parameters (`filename*=utf-8''…`,
`filename*0*=…; filename*1*=…`). Everything else in the gateway reads headers through
this module and gets plain `str` values:

    Headers.of(msg).get("Subject")           decoded text of the first field ('' if none)
    Headers.of(msg).raw("Message-ID")        undecoded text (8-bit repaired) of the first
    Headers.of(msg).get_all("Received")      every occurrence, decoded
    content_type(part), disposition(part), filename(part), param(value, "charset")

`text(value)` turns anything a header API may return (str with surrogates, Header,
bytes, None) into text.
"""
from __future__ import annotations

import email.header
import re
from dataclasses import dataclass
from email.message import Message
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import unquote_to_bytes

_SPACE = re.compile(r"\s+")
_ENCODED_WORD = re.compile(r"=\?[^?\s]+\?[bBqQ]\?[^?]*\?=")


def _has_surrogates(value: str) -> bool:
    return any("\udc80" <= ch <= "\udcff" for ch in value)


def repair_8bit(value: str) -> str:
    """Text with raw 8-bit bytes (surrogate-escaped by the parser) decoded: UTF-8 when it
    is valid UTF-8, else Windows-1252 (what German mail clients without MIME write)."""
    if not _has_surrogates(value):
        return value
    data = value.encode("utf-8", "surrogateescape")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", "replace")


def text(value: Any) -> str:
    """Any header value as text, undecoded (no RFC 2047), 8-bit bytes repaired."""
    if value is None:
        return ""
    if isinstance(value, bytes):
        return repair_8bit(value.decode("utf-8", "surrogateescape"))
    if isinstance(value, email.header.Header):
        try:
            # a Header built from 8-bit source keeps the original bytes in its chunks
            chunks = getattr(value, "_chunks", None)
            if chunks:
                return repair_8bit("".join(str(s) for s, _charset in chunks))
            return repair_8bit(str(value))
        except Exception:
            return ""
    try:
        return repair_8bit(str(value))
    except Exception:
        return ""


def _decode_chunk(data: bytes, charset: Optional[str]) -> str:
    for candidate in (charset, "utf-8", "cp1252"):
        if not candidate:
            continue
        try:
            return data.decode(candidate)
        except (LookupError, UnicodeDecodeError):
            continue
    return data.decode("latin-1")


def decode(value: Any) -> str:
    """RFC 2047 encoded words and 8-bit bytes → text on one line; never raises. A broken
    encoded word stays as it was."""
    raw = text(value)
    if "=?" not in raw:
        return " ".join(raw.split())
    try:
        parts = email.header.decode_header(raw)
    except Exception:
        return " ".join(raw.split())
    if not any(isinstance(chunk, bytes) for chunk, _ in parts):
        return " ".join(raw.split())
    out: List[str] = []
    for chunk, charset in parts:
        out.append(_decode_chunk(chunk, charset) if isinstance(chunk, bytes) else chunk)
    # decode_header drops the whitespace between encoded and plain words inconsistently
    return " ".join("".join(out).split()) or " ".join(raw.split())


@dataclass(frozen=True)
class Headers:
    """The header fields of one message or MIME part, in order, as (name, raw text)."""

    fields: Tuple[Tuple[str, str], ...]

    @classmethod
    def of(cls, msg: Message) -> "Headers":
        try:
            items = msg.raw_items() if hasattr(msg, "raw_items") else msg.items()
            return cls(tuple((text(name).strip(), text(value)) for name, value in items))
        except Exception:
            return cls(())

    def raw(self, name: str) -> str:
        """The first field called `name`, not decoded ('' when there is none)."""
        lowered = name.lower()
        for key, value in self.fields:
            if key.lower() == lowered:
                return value
        return ""

    def get(self, name: str) -> str:
        """The first field called `name`, decoded onto one line ('' when there is none)."""
        return decode(self.raw(name))

    def get_all(self, name: str) -> List[str]:
        lowered = name.lower()
        return [decode(value) for key, value in self.fields if key.lower() == lowered]

    def has(self, name: str) -> bool:
        lowered = name.lower()
        return any(key.lower() == lowered for key, _ in self.fields)

    def decoded(self) -> Tuple[Tuple[str, str], ...]:
        """Every field decoded (what loop protection and staff see)."""
        return tuple((key, decode(value)) for key, value in self.fields)


# -- structured fields: Content-Type, Content-Disposition --------------------------------
def _split_params(value: str) -> List[str]:
    """'a; b="x;y"; c' → ['a', 'b="x;y"', 'c'] (quotes respected)."""
    parts, current, quoted, escaped = [], [], False, False
    for ch in value:
        if escaped:
            current.append(ch)
            escaped = False
        elif ch == "\\" and quoted:
            current.append(ch)
            escaped = True
        elif ch == '"':
            quoted = not quoted
            current.append(ch)
        elif ch == ";" and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return [p.strip() for p in parts if p.strip()]


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
        value = re.sub(r"\\(.)", r"\1", value)
    return value


def parse_params(value: Any) -> Tuple[str, Dict[str, str]]:
    """(main value lower-cased, {parameter: text}) of a structured field, with RFC 2231
    continuations and charsets, RFC 2047 words in quoted values and raw 8-bit bytes."""
    raw = _SPACE.sub(" ", text(value)).strip()
    if not raw:
        return "", {}
    pieces = _split_params(raw)
    main = ""
    if pieces and "=" not in pieces[0].split(" ", 1)[0]:
        first = pieces.pop(0)
        main, _, rest = first.partition(" ")
        if "=" in rest:  # "attachment filename=x" without the semicolon
            pieces.insert(0, rest)
    plain: Dict[str, str] = {}
    extended: Dict[str, Dict[int, Tuple[str, bool]]] = {}
    for piece in pieces:
        key, sep, val = piece.partition("=")
        if not sep:
            continue
        key = key.strip().lower()
        match = re.fullmatch(r"([^*]+)(?:\*(\d+))?(\*)?", key)
        if not match:
            continue
        name, index, star = match.group(1), match.group(2), bool(match.group(3))
        if index is None and not star:
            plain.setdefault(name, _unquote(val))
        else:
            extended.setdefault(name, {})[int(index or 0)] = (_unquote(val) if not star else val.strip().strip('"'),
                                                              star)
    params = {name: decode(value) for name, value in plain.items()}
    for name, segments in extended.items():
        try:
            params[name] = _join_rfc2231([segments[i] for i in sorted(segments)])
        except Exception:
            continue
    return main.strip().lower(), params


def _join_rfc2231(segments: List[Tuple[str, bool]]) -> str:
    charset = None
    data = b""
    for n, (value, encoded) in enumerate(segments):
        if encoded:
            if n == 0 and value.count("'") >= 2:
                charset, _language, value = value.split("'", 2)
            data += unquote_to_bytes(value.encode("utf-8", "surrogateescape"))
        else:
            data += value.encode("utf-8", "surrogateescape")
    return repair_8bit(_decode_chunk(data, charset or None) if charset else
                       data.decode("utf-8", "surrogateescape"))


def param(value: Any, name: str) -> str:
    return parse_params(value)[1].get(name.lower(), "")


def _field(part: Message, name: str) -> str:
    return Headers.of(part).raw(name)


def content_type(part: Message) -> str:
    """'type/subtype' lower-cased; text/plain when missing or unreadable (RFC 2045), and
    message/rfc822 for parts of a multipart/digest that say nothing."""
    headers = Headers.of(part)
    for value in [v for k, v in headers.fields if k.lower() == "content-type"]:
        main, _ = parse_params(value)
        if re.fullmatch(r"[a-z0-9!#$&^_.+-]+/[a-z0-9!#$&^_.+-]+", main):
            return main
    try:
        return part.get_default_type()
    except Exception:
        return "text/plain"


def content_charset(part: Message) -> Optional[str]:
    return param(_field(part, "Content-Type"), "charset") or None


def disposition(part: Message) -> str:
    """'attachment', 'inline' or '' — misspellings ("attachement") and case forgiven."""
    main, _ = parse_params(_field(part, "Content-Disposition"))
    if main.startswith("attach"):
        return "attachment"
    if main.startswith("inline"):
        return "inline"
    return ""


def filename(part: Message) -> str:
    """The part's file name: Content-Disposition filename (RFC 2231 or plain), else the
    Content-Type name; '' when there is none. Path parts are dropped."""
    for field, key in (("Content-Disposition", "filename"), ("Content-Type", "name")):
        value = param(_field(part, field), key)
        if value:
            name = value.replace("\\", "/").rsplit("/", 1)[-1].strip()
            name = "".join(ch for ch in name if ch >= " " and ch != "\x7f")
            if name:
                return name[:255]
    return ""
