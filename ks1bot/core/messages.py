"""Inbound messages and the line format of `ks1bot route` (SPEC §7)."""
from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Tuple, Union

CHANNELS = ("email", "chat", "call")


def now_utc() -> dt.datetime:
    """The current time in UTC (the default clock of everything that stamps messages)."""
    return dt.datetime.now(dt.timezone.utc)


@dataclass(frozen=True)
class InboundMessage:
    """One customer message from any channel."""

    id: str
    channel: str
    received_at: dt.datetime
    sender: str
    text: str
    subject: Optional[str] = None
    #: Language given by the channel (e.g. the phone system), else None.
    language_hint: Optional[str] = None
    #: Why the channel already knows this message must not be answered (RFC 3834
    #: headers of an email, …), else None.
    auto_generated: Optional[str] = None
    headers: Tuple[Tuple[str, str], ...] = field(default=())
    #: The customer id a channel has verified (a customer token signed by KS1 web); it
    #: decides the customer before `sender` does. None: the sender's address or number.
    customer_id: Optional[str] = None


@dataclass(frozen=True)
class InputError:
    """A line of input that cannot be routed, with the reason for the user."""

    id: Optional[str]
    error: str


_OFFSET = re.compile(r"(Z|[+-]\d{2}:?\d{2})$", re.IGNORECASE)


def parse_timestamp(value: Any) -> dt.datetime:
    """ISO-8601 with an offset or Z; raises ValueError with a user-facing reason."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError("received_at must be an ISO-8601 timestamp string such as 2026-11-17T11:20:00+01:00")
    text = value.strip()
    if not _OFFSET.search(text):
        raise ValueError(
            f"received_at {text!r} has no UTC offset; add one such as +01:00 or Z"
        )
    if text[-1] in "zZ":
        text = text[:-1] + "+00:00"
    try:
        stamp = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"received_at {value!r} is not an ISO-8601 timestamp; write it like 2026-11-17T11:20:00+01:00"
        ) from None
    if stamp.tzinfo is None:
        raise ValueError(f"received_at {value!r} has no UTC offset; add one such as +01:00 or Z")
    return stamp


def parse_route_line(line: str) -> Union[InboundMessage, InputError]:
    """One JSONL input line → an InboundMessage, or an InputError naming the problem."""
    try:
        data = json.loads(line)
    except (json.JSONDecodeError, RecursionError) as exc:
        message = getattr(exc, "msg", "too deeply nested")
        return InputError(None, f"line is not valid JSON ({message}); write one JSON object per line")
    if not isinstance(data, dict):
        return InputError(None, "line is not a JSON object; write one object per line with id, channel, received_at, sender and text")
    return message_from_mapping(data)


def message_from_mapping(data: Mapping[str, Any]) -> Union[InboundMessage, InputError]:
    raw_id = data.get("id")
    msg_id = str(raw_id) if isinstance(raw_id, (str, int)) and str(raw_id).strip() else None
    missing = [key for key in ("id", "channel", "received_at", "sender", "text") if key not in data]
    if missing:
        return InputError(msg_id, f"missing field {', '.join(missing)}; every line needs id, channel, received_at, sender and text")
    if msg_id is None:
        return InputError(None, "id must be a non-empty string")
    channel = data.get("channel")
    if channel not in CHANNELS:
        return InputError(msg_id, f"unknown channel {channel!r}; use email, chat or call")
    try:
        received_at = parse_timestamp(data.get("received_at"))
    except ValueError as exc:
        return InputError(msg_id, str(exc))
    sender = data.get("sender")
    if not isinstance(sender, str):
        return InputError(msg_id, "sender must be a string: an email address or an E.164 phone number")
    text = data.get("text")
    if not isinstance(text, str):
        return InputError(msg_id, "text must be a string")
    subject = data.get("subject")
    if subject is not None and not isinstance(subject, str):
        return InputError(msg_id, "subject must be a string when given")
    if not text.strip() and not (subject or "").strip():
        return InputError(msg_id, "text is empty; there is nothing to classify")
    language = data.get("language")
    return InboundMessage(
        id=msg_id,
        channel=channel,
        received_at=received_at,
        sender=sender.strip(),
        text=text,
        subject=subject,
        language_hint=language if language in ("de", "en") else None,
    )
