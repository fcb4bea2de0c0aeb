"""Mail that must never get an automatic reply (RFC 3834), decided in one place.

Each check is a small named predicate over the mail; `auto_reply_reason` runs them in
order and returns the name of the first that hits, so staff can see why a mail was
ignored. It runs once per mail, in the gateway's worker, with one list of our own
addresses (`own_mail`); the Router only reads its verdict (`InboundMessage.auto_generated`).
Messages without headers (a JSON line of `ks1bot route`) still get the text checks
through `screen`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from email.utils import getaddresses
from typing import Callable, Optional, Sequence, Tuple

from ks1bot.core.messages import InboundMessage
from ks1bot.core.settings import Settings

_SUBJECT_TAGS = r"^\s*(?:\[[^\]]{0,40}\]\s*|\*{1,3}[^*]{0,20}\*{1,3}\s*)*"
_OOO_SUBJECT = re.compile(
    _SUBJECT_TAGS + r"(?:abwesenheits(?:notiz|meldung|nachricht|info)|urlaubsabwesenheit|ich bin nicht im büro|"
    r"out of (?:the )?office|automatische antwort|automatic reply|auto[- ]?reply|autoreply|auto[- ]?response|"
    r"autoresponder|ooo|postfach nicht mehr aktiv|mailbox (?:no longer|not) (?:active|monitored)|"
    r"abwesenheitsassistent)\b"
    # words a person may use as a subject count only as the prefix an auto-responder adds
    r"|" + _SUBJECT_TAGS + r"(?:abwesend|abwesenheit|nicht im büro|urlaub|elternzeit|betriebsurlaub|betriebsferien|"
    r"vacation(?: reply)?|on leave)\s*[:\-–]",
    re.IGNORECASE,
)
#: Read receipts (MDNs sent as plain mail) and the confirmations of ticket systems.
_RECEIPT_SUBJECT = re.compile(
    _SUBJECT_TAGS + r"(?:gelesen|read|nicht gelesen|not read|unread|gelöscht ohne (?:es zu )?lesen|"
    r"deleted without being read|zur kenntnis genommen|lesebestätigung|read receipt|return receipt|"
    r"empfangsbestätigung|eingangsbestätigung|übermittlungsbestätigung|delivery receipt|"
    r"request received|anfrage erhalten|wir haben ihre (?:anfrage|nachricht|e-?mail) erhalten|"
    r"we have received your|ticket (?:received|created|erstellt|eröffnet)|"
    r"(?:ihre )?(?:anfrage|ticket|meldung) (?:wurde )?(?:erfasst|registriert|angelegt))\b\s*(?:\([^)]{0,20}\))?\s*[:\-–]"
    r"|^\s*(?:eingangsbestätigung|empfangsbestätigung|lesebestätigung|übermittlungsbestätigung)\b"
    r"|\[(?:ticket|request|anfrage|vorgang|case|incident)\s*#?\s*[\w-]*\d{3,}[\w-]*\]\s*(?:eingangsbestätigung|"
    r"empfangsbestätigung|bestätigung|confirmation|received|erhalten)",
    re.IGNORECASE,
)
# Body phrases that only auto-replies use. Two different ones (or one of the strong ones)
# are needed, so a customer who mentions a holiday in a real request is still answered.
_OOO_BODY_STRONG = re.compile(
    r"(ihre (nachricht|e-?mail|mail) wird (nicht|nicht automatisch) (weitergeleitet|gelesen|bearbeitet)|"
    r"(nachricht|e-?mail|mail) wurde nicht weitergeleitet|"
    r"diese (nachricht|e-?mail) wurde automatisch|automatisch (generiert|erstellt)e? (nachricht|antwort|e-?mail)|"
    r"dies ist eine (automatische|automatisch (generierte|erstellte)) (nachricht|antwort|e-?mail|benachrichtigung)|"
    r"dies ist eine lesebestätigung|diese lesebestätigung|"
    r"bitte antworten sie nicht auf diese|do not reply to this (e-?mail|message)|please do not reply to this|"
    r"this is an auto(matic|mated)?[- ]?(reply|response|generated|message)|"
    r"this is a read receipt|was read on .{0,120}\d|wurde am .{0,160}\d.{0,160} gelesen|"
    r"your (message|e-?mail) will not be forwarded|this mailbox is (no longer|not) (monitored|active)|"
    r"dieses postfach wird nicht mehr (betreut|gelesen|genutzt|abgerufen)|"
    r"(befinde mich|bin ich|ich bin)\b.{0,60}\b(in elternzeit|im mutterschutz|in mutterschutz|in karenz|"
    r"im mutterschaftsurlaub|im vaterschaftsurlaub|in elternkarenz)|"
    r"(i am|i'm|i will be) (currently )?on (parental|maternity|paternity|sick) leave|"
    r"please type your reply above this line|"
    r"(ihre anfrage|ihr anliegen|ihre nachricht) (ist|wurde) .{0,80}(unter der|mit der) (ticket|vorgangs|referenz)-?nummer|"
    r"(unter der|mit der) (ticket|vorgangs)-?nummer .{0,40} (erfasst|registriert|angelegt)|"
    r"your (request|ticket|case) (\(?#?[\w-]+\)? )?has been (received|created|logged)|"
    r"i am (currently )?out of (the )?office|i'?m (currently )?out of (the )?office|"
    r"i will be out of (the )?office|(ich bin|bin ich) .{0,30}krankheitsbedingt nicht erreichbar|"
    r"(ihre|deine) (nachricht|e-?mail|anfrage) wird nach (meiner|unserer) rückkehr|"
    r"(ihre|deine) (nachricht|e-?mail|anfrage) wird (erst )?(ab|nach|am|bis) .{0,60}(bearbeitet|beantwortet|gelesen)|"
    r"wir haben (sie|ihre (nachricht|e-?mail|anfrage)) erhalten und (melden|werden|kümmern))",
    re.IGNORECASE,
)
_OOO_BODY_WEAK = re.compile(
    r"(ich bin (bis|vom|ab|derzeit|zurzeit|momentan|aktuell)\b.{0,60}\b(urlaub|abwesend|nicht im (büro|haus)|"
    r"nicht erreichbar|außer haus|auf dienstreise)|"
    r"in dringenden fällen (wenden sie sich|bitte|erreichen)|ab dem .{0,30} (wieder|bin ich wieder)|"
    r"(bin|wieder|sind wir) .{0,20}erreichbar ab|wieder .{0,25}für sie da|"
    r"nur eingeschränkt (erreichbar|besetzt)|lese meine e-?mails (erst|nur|wieder|ab)|"
    r"(betrieb|büro|geschäft|firma) ist .{0,60}(betriebsurlaub|betriebsferien|geschlossen)|"
    r"(bestellungen|nachrichten|e-?mails|anfragen),? die in dieser zeit eingehen|"
    r"i (am|will be) (away|on (annual )?leave|on holiday|on vacation)|"
    r"our (office|company) (is|will be) closed|(reopens|re-opens|will return|back in the office) on|"
    r"emails received during this time|"
    r"limited access to (my )?e-?mail|for (urgent|anything urgent|urgent matters),? please contact|"
    r"keinen zugriff auf (meine )?e-?mails|lese meine e-?mails nur unregelmäßig|"
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
    # an auto-reply asks nothing; two different weak phrases in a mail without a question
    weak = {match.group(0).lower() for match in _OOO_BODY_WEAK.finditer(body)}
    return len(weak) >= 2 and "?" not in body


def _receipt(m: MailFacts) -> bool:
    return bool(_RECEIPT_SUBJECT.search(m.subject))


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
    ("read_receipt_or_ticket", _receipt),
    ("out_of_office", _out_of_office),
)


def auto_reply_reason(facts: MailFacts) -> Optional[str]:
    """The first loop-protection rule the mail hits, or None when it may be answered."""
    for name, check in CHECKS:
        if check(facts):
            return name
    return None


@dataclass(frozen=True)
class OwnMail:
    """What makes a mail our own: the one list of our addresses and our Message-ID domain."""

    addresses: Tuple[str, ...]
    message_id_domain: str


def own_mail(settings: Settings, from_address: Optional[str] = None) -> OwnMail:
    """`our_addresses` from the settings plus the sender of our replies (`from_address`,
    else mail.from_address; the gateway passes the one it resolved)."""
    sender = from_address or settings.mail.from_address
    addresses = tuple(settings.our_addresses) + ((sender.strip().lower(),) if sender else ())
    return OwnMail(tuple(dict.fromkeys(addresses)), settings.message_id_domain)


def screen(message: InboundMessage, own: OwnMail) -> InboundMessage:
    """An email with `auto_generated` set to the rule that hit (None: it may be answered);
    other channels, and messages whose channel already decided, unchanged."""
    if message.channel != "email" or message.auto_generated is not None:
        return message
    reason = auto_reply_reason(MailFacts(sender=message.sender, subject=message.subject or "", body=message.text,
                                         headers=message.headers, our_addresses=own.addresses,
                                         our_message_id_domain=own.message_id_domain))
    return replace(message, auto_generated=reason) if reason else message
