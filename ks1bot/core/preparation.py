"""The text-preparation stage: from an inbound message to the text(s) the classifier reads.

One place for every channel, pure (no model, no I/O):
- email: the subject of a reply or forward (Re:/AW:/WG:/Fwd: …) describes the old thread,
  so only the new text counts (the subject is used when the mail is new, or when the new
  text says nothing); quoted history, signature, closing, legal footers and mobile
  signatures are removed (`email_text`); when the sender only forwards a message with a
  note ("siehe unten"), the forwarded message is the request;
- every channel: spoken forms normalised ("ka es eins" → KS1, fillers out; `text`);
- several requests in one message are cut into parts (`request_split`).

The staff console and the logs keep the original text; this is only what the NLU sees.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import List, Optional, Tuple

from ks1bot.core.email_text import MailBody, read_body
from ks1bot.core.messages import InboundMessage
from ks1bot.core.request_split import split_requests
from ks1bot.core.text import normalize_for_classification, single_line, strip_control, strip_reply_prefix

_TAGS = re.compile(r"^\s*(?:(?:\[[^\]]{1,30}\]|\*{1,3}[^*]{1,20}\*{1,3}|\([^)]{1,20}\))\s*)+")
_REPLY = re.compile(r"^\s*(?:re|aw|antw|antwort|sv|r|rif|odp|vs)\s*(?:\[\d+\]|\(\d+\))?\s*:", re.IGNORECASE)
_FORWARD = re.compile(r"^\s*(?:wg|fw|fwd|tr|wtr|weitergeleitet|enc|rv|i)\s*(?:\[\d+\]|\(\d+\))?\s*:", re.IGNORECASE)


def subject_kind(subject: Optional[str]) -> str:
    """'reply', 'forward' or 'new' by the subject's prefix (after tags like "[EXTERN]")."""
    text = _TAGS.sub("", single_line(strip_control(subject or "")))
    if _FORWARD.match(text):
        return "forward"
    if _REPLY.match(text):
        return "reply"
    return "new"


@dataclass(frozen=True)
class PreparedText:
    """What the classifier reads for one message."""

    #: The whole request on one line (subject where it counts, then the new text).
    text: str
    #: The requests in it, one line each; `(text,)` when there is one.
    parts: Tuple[str, ...]
    #: What the preparation did, for the decision's reasons ("quoted_history_removed", …).
    steps: Tuple[str, ...] = ()

    @property
    def several_requests(self) -> bool:
        return len(self.parts) > 1


def _email_core(message: InboundMessage) -> Tuple[str, Optional[str], List[str]]:
    """(the request's text, the subject that counts or None, steps) of an email."""
    kind = subject_kind(message.subject)
    body: MailBody = read_body(message.text or "")
    if kind == "forward":
        body = replace(body, forwarded=True)
    steps = [f"{r}_removed" for r in body.removed]
    subject: Optional[str] = strip_reply_prefix(_TAGS.sub("", message.subject or "")) if kind == "new" else None
    if kind != "new" and message.subject:
        steps.append(f"{kind}_subject_ignored")
    if body.only_forwards:
        steps.append("forwarded_request")
        inner_subject = body.inner_subject
        subjects = []
        if kind == "forward" and message.subject:
            # the forwarder's own subject says what the forwarded message is about to them
            subjects.append(strip_reply_prefix(_TAGS.sub("", message.subject)))
        if inner_subject and subject_kind(inner_subject) == "new":
            inner = strip_reply_prefix(_TAGS.sub("", inner_subject))
            if inner.lower() not in (s.lower() for s in subjects):
                subjects.append(inner)
        return body.inner_text, (" ".join(subjects) or None), steps
    core = body.new_text
    if not core.strip():
        unquoted = "\n".join(re.sub(r"^\s*(?:>\s?)+", "", line) for line in (message.text or "").splitlines())
        core = unquoted.strip()
    if not core.strip() and message.subject:
        # nothing written but the subject: then the subject is the request, reply or not
        return "", strip_reply_prefix(_TAGS.sub("", message.subject)), steps + ["subject_only"]
    return core, subject, steps


def prepare(message: InboundMessage) -> PreparedText:
    """The classifier's view of `message` (see the module docstring)."""
    steps: List[str] = []
    subject: Optional[str] = None
    if message.channel == "email":
        core, subject, steps = _email_core(message)
    else:
        core = message.text or ""
    pieces = split_requests(strip_control(core)) if core.strip() else [core]
    whole = normalize_for_classification(" ".join(p for p in (subject, core) if p))
    if len(pieces) > 1:
        parts = tuple(p for p in (normalize_for_classification(piece) for piece in pieces) if p)
        steps.append(f"split_into_{len(parts)}_requests")
    else:
        parts = (whole,)
    return PreparedText(text=whole, parts=parts if len(parts) > 1 else (whole,), steps=tuple(steps))
