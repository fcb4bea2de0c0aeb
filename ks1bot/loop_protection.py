"""Mail that must never get an automatic reply (RFC 3834), decided in one place.

Each check is a small named predicate over the mail; `auto_reply_reason` runs them in
order and returns the name of the first that hits, so staff can see why a mail was
ignored. Channels without headers (a routed JSON line) still get the text checks.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from email.utils import getaddresses
from typing import Callable, Mapping, Optional, Sequence, Tuple

_OOO_SUBJECT = re.compile(
    r"(abwesenheits(notiz|meldung|nachricht)|urlaubsabwesenheit|^\s*abwesend\s*:|nicht im büro|"
    r"automatische antwort|automatic reply|auto[- ]?reply|autoreply|auto[- ]?response|"
    r"out of (the )?office|^\s*ooo\b)",
    re.IGNORECASE,
)
# Body phrases that only auto-replies use. Two different ones (or one of the strong ones)
# are needed, so a customer who mentions a holiday in a real request is still answered.
_OOO_BODY_STRONG = re.compile(
    r"(ihre (nachricht|e-?mail|mail) wird nicht weitergeleitet|"
    r"diese (nachricht|e-?mail) wurde automatisch|automatisch (generiert|erstellt)e? (nachricht|antwort)|"
    r"this is an auto(matic|mated)?[- ]?(reply|response|generated)|"
    r"your (message|e-?mail) will not be forwarded|"
    r"i am (currently )?out of (the )?office|i'?m (currently )?out of (the )?office|"
    r"i will be out of (the )?office)",
    re.IGNORECASE,
)
_OOO_BODY_WEAK = re.compile(
    r"(ich bin (bis|vom|ab|derzeit|zurzeit|momentan)\b.{0,60}\b(urlaub|abwesend|nicht im (büro|haus)|nicht erreichbar)|"
    r"in dringenden fällen wenden sie sich|ab dem .{0,30} (wieder|bin ich wieder)|"
    r"(bin|wieder) .{0,20}erreichbar ab|"
    r"i (am|will be) (away|on (annual )?leave|on holiday|on vacation)|"
    r"limited access to (my )?e-?mail|for urgent matters,? please contact|"
    r"i will (be back|return) on)",
    re.IGNORECASE,
)
_BOUNCE_SENDER = re.compile(r"^(mailer-daemon|postmaster|mail delivery (system|subsystem))\b", re.IGNORECASE)
_BOUNCE_SUBJECT = re.compile(
    r"^(undeliver(able|ed)|delivery status notification|mail delivery failed|returned mail|"
    r"unzustellbar|nicht zustellbar|zustellungsbericht|delivery (has )?failed)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class MailFacts:
    """What the checks look at. Header names are matched case-insensitively."""

    sender: str = ""
    subject: str = ""
    body: str = ""
    headers: Tuple[Tuple[str, str], ...] = ()
    our_addresses: Tuple[str, ...] = ()
    our_message_id_domain: str = ""

    def header(self, name: str) -> Optional[str]:
        lowered = name.lower()
        for key, value in self.headers:
            if key.lower() == lowered:
                return str(value)
        return None

    def has_header(self, name: str) -> bool:
        return self.header(name) is not None

    @property
    def sender_address(self) -> str:
        pairs = getaddresses([self.sender]) if self.sender else []
        return (pairs[0][1] if pairs else self.sender).strip().lower()


def _auto_submitted(m: MailFacts) -> bool:
    value = m.header("Auto-Submitted")
    return value is not None and value.split(";")[0].strip().lower() != "no"


def _bounce(m: MailFacts) -> bool:
    content_type = (m.header("Content-Type") or "").lower()
    if "multipart/report" in content_type or "message/delivery-status" in content_type:
        return True
    return_path = m.header("Return-Path")
    if return_path is not None and return_path.strip() in ("<>", ""):
        return True
    local = m.sender_address.split("@")[0]
    if _BOUNCE_SENDER.match(local) or _BOUNCE_SENDER.match(m.sender.strip()):
        return True
    return bool(_BOUNCE_SUBJECT.match(m.subject.strip()))


def _precedence(m: MailFacts) -> bool:
    return (m.header("Precedence") or "").strip().lower() in ("bulk", "list", "junk")


def _mailing_list(m: MailFacts) -> bool:
    return m.has_header("List-Id") or m.has_header("List-Unsubscribe")


def _x_autoreply(m: MailFacts) -> bool:
    return any(m.has_header(h) for h in ("X-Autoreply", "X-Autorespond", "X-Autoresponder"))


def _auto_response_suppress(m: MailFacts) -> bool:
    value = (m.header("X-Auto-Response-Suppress") or "").strip().lower()
    return bool(value) and value != "none"


def _own_address(m: MailFacts) -> bool:
    return bool(m.sender_address) and m.sender_address in m.our_addresses


def _own_message_id(m: MailFacts) -> bool:
    if not m.our_message_id_domain:
        return False
    message_id = (m.header("Message-ID") or "").strip().lower().rstrip(">")
    return message_id.endswith("@" + m.our_message_id_domain)


def _out_of_office(m: MailFacts) -> bool:
    if _OOO_SUBJECT.search(m.subject):
        return True
    body = m.body[:3000]
    if _OOO_BODY_STRONG.search(body):
        return True
    return len(_OOO_BODY_WEAK.findall(body)) >= 2


#: The checks in order; the first that hits names the reason.
CHECKS: Sequence[Tuple[str, Callable[[MailFacts], bool]]] = (
    ("own_address", _own_address),
    ("own_message_id", _own_message_id),
    ("auto_submitted", _auto_submitted),
    ("bounce", _bounce),
    ("precedence_bulk", _precedence),
    ("mailing_list", _mailing_list),
    ("x_autoreply", _x_autoreply),
    ("auto_response_suppress", _auto_response_suppress),
    ("out_of_office", _out_of_office),
)


def auto_reply_reason(facts: MailFacts) -> Optional[str]:
    """The first loop-protection rule the mail hits, or None when it may be answered."""
    for name, check in CHECKS:
        if check(facts):
            return name
    return None
