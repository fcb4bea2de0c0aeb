"""Mail that must never get an automatic reply (RFC 3834), decided in one place.

Two kinds of rules, each a small named predicate over the mail, headers first, then
subject and body patterns (German and English):

* **machine** rules: the mail was written by a machine (an auto-reply, a bounce, a list,
  a newsletter, a fax, a monitoring or ticket system, a calendar reply, a challenge, a
  spam verdict, our own mail). It is ignored: no reply, nothing for staff.
* **doubt** rules: the mail must not be answered automatically, but a person may have
  written it (a noreply@ or postmaster@ sender, a colleague from our own domain, no From
  at all, Precedence: bulk on a person's mail, a body that is only data). It goes to
  staff as a handoff without an acknowledgement. Two different doubts together are
  machine mail.

Precision matters more than recall: a person's mail must never be ignored, so a rule is
a machine rule only when people do not write that way; everything else is at most a
doubt. `screen_mail` runs the rules in order and names the first machine rule (and every
doubt), so staff can see why. It runs once per mail, in the gateway's worker, with one
list of our own addresses and domains (`own_mail`); the Router only reads its verdict
(`InboundMessage.auto_generated`). Messages without headers (a JSON line of `ks1bot
route`) still get the text checks through `screen`.

Patterns only look at the text the sender wrote in this mail (above any quoted or
forwarded history): a customer forwarding a newsletter with a question is a person.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from email.utils import getaddresses
from typing import Callable, Optional, Sequence, Tuple

from ks1bot.core.email_text import own_text
from ks1bot.core.messages import InboundMessage
from ks1bot.core.settings import Settings

_SUBJECT_TAGS = r"^\s*(?:\[[^\]]{0,40}\]\s*|\*{1,3}[^*]{0,20}\*{1,3}\s*)*"
_OOO_SUBJECT = re.compile(
    _SUBJECT_TAGS + r"(?:abwesenheits(?:notiz|meldung|nachricht|info)|urlaubsabwesenheit|ich bin nicht im büro|"
    r"out of (?:the )?office|automatische antwort|automatic reply|auto[- ]?reply|autoreply|auto[- ]?response|"
    r"autoresponder|ooo|postfach nicht mehr aktiv|mailbox (?:no longer|not) (?:active|monitored)|"
    r"abwesenheitsassistent|"
    # auto-reply subjects of other European languages
    r"automatyczna odpowied[zź]|réponse automatique|respuesta automática|risposta automatica|"
    r"automatisch antwoord|automatické odpovědi|automatikus válasz|automatisk svar)\b"
    # words a person may use as a subject count only as the prefix an auto-responder adds
    r"|" + _SUBJECT_TAGS + r"(?:abwesend|abwesenheit|nicht im büro|urlaub|elternzeit|betriebsurlaub|betriebsferien|"
    r"vacation(?: reply)?|on leave)\s*[:\-–]"
    # the auto-responder's mark as a tag: "[Automatyczna odpowiedź ] test"
    r"|\[\s*(?:automatyczna odpowied[zź]|auto-?reply|automatic reply|automatische antwort|out of (?:the )?office|"
    r"abwesenheitsnotiz|réponse automatique|respuesta automática|risposta automatica)\s*\]",
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
#: Bounce senders. postmaster@ is not among them: a person may write from it (a doubt).
_BOUNCE_SENDER = re.compile(r"^(mailer-daemon|mail delivery (system|subsystem))\b", re.IGNORECASE)
_BOUNCE_SUBJECT = re.compile(
    r"^(undeliver(able|ed)|delivery status notification|mail delivery failed|returned mail|"
    r"unzustellbar|nicht zustellbar|zustellungsbericht|delivery (has )?failed|delivery failure|"
    r"undeliverable mail|non remis|no se puede entregar|impossibile recapitare)",
    re.IGNORECASE,
)
#: Envelope senders of lists and bulk mailers (RFC 3834 §2: owner-*, *-request; VERP
#: bounce addresses), by local part or by a domain label.
_LIST_ENVELOPE = re.compile(r"^(owner-.+|.+-(request|owner|bounces?)|bounces?([-+=._].*)?)$", re.IGNORECASE)
_BOUNCE_DOMAIN = re.compile(r"(^|\.)bounces?(\.|$)", re.IGNORECASE)
#: Headers that only list servers, bulk mailers and mass-mail services set.
_BULK_HEADERS = ("list-id", "list-unsubscribe", "list-post", "list-help", "list-subscribe", "x-campaign",
                 "x-campaign-id", "x-campaignid", "x-newsletter", "x-mailgun-campaign-id", "x-mc-user",
                 "x-sg-eid", "x-ses-outgoing", "feedback-id", "x-csa-complaints", "x-mailjet-campaign",
                 "x-rpcampaign", "x-cmail-id", "x-sfmc-stack", "x-listmember", "x-mailer-recptid")
_BULK_MAILER = re.compile(
    r"\b(inxmail|mailchimp|mailjet|sendinblue|brevo|rapidmail|cleverreach|newsletter2go|phplist|mailman|listserv|"
    r"sympa|majordomo|ezmlm|constant ?contact|campaign ?monitor|hubspot|marketo|salesforce marketing|exacttarget|"
    r"mailpoet|sendgrid|mandrill|emarsys|optivo|episerver campaign|evalanche|sap netweaver|sap business one)\b",
    re.IGNORECASE)
#: Sender names and local parts of newsletters and mailings.
_NEWSLETTER_SENDER = re.compile(r"\b(newsletter|e-?news|hirlevel|mailing|infomail|news ?letter)\b", re.IGNORECASE)
#: Headers of ticket and issue systems, build servers and code hosts.
#: (Not X-OTRS-/X-OTOBO-/X-Zammad-: those are control fields a customer's own filter may set.)
_TICKET_HEADER = re.compile(r"^(x-jira-|x-rt-|rt-ticket|rt-originator|"
                            r"x-redmine-|x-github-|x-gitlab-|x-bugzilla-|x-trac-|x-jenkins-|x-servicenow|"
                            r"x-freshdesk|x-zendesk|x-helpscout|x-mantis|x-phabricator)", re.IGNORECASE)
_TICKET_SUBJECT = re.compile(r"^\s*(?:re:\s*)?\[(?:jira|redmine|gitlab|github|bugzilla|jenkins|trac)\b", re.IGNORECASE)
#: Unix and service accounts that send monitoring, cron and application mail.
_SYSTEM_ACCOUNT = re.compile(
    r"^(root|cron|crond|daemon|nagios|icinga|icinga2|zabbix|monit|munin|logwatch|www-data|www|apache|nginx|httpd|"
    r"oracle|postgres|mysql|backup|jenkins|prometheus|alertmanager|grafana|smartd|mdadm|systemd|anacron|"
    r"nobody|bin|sysadmin-bot)$", re.IGNORECASE)
_MONITORING_SUBJECT = re.compile(
    r"^\s*(?:cron <[^>]+>|\*\* ?(?:problem|recovery|acknowledgement|flapping)\b|\[(?:nagios|icinga|zabbix|monit|"
    r"alertmanager|prometheus|grafana|firing:\d+|resolved)\]|(?:problem|resolved|ok|warning|critical):\s.{0,80}"
    r"\b(?:host|service|trigger)\b|monit alert|(?:service|host) alert\b|.*\brevision \d+$|"
    r"anacron job|logwatch for\b)",
    re.IGNORECASE)
_MONITORING_HEADER = ("x-cron-env", "x-nagios", "x-zabbix", "x-monit", "x-icinga", "x-logwatch")
_FAX_SENDER = re.compile(r"(^|[^a-z])fax([^a-z]|$)", re.IGNORECASE)
_FAX_SUBJECT = re.compile(
    r"(\b(?:fax|telefax)(?:-?nachricht|-?eingang|-?empfang)?\s+(?:von|from|an|to|received|erhalten|empfangen)\b|"
    r"\bhas received a fax\b|\bnew fax\b|\bneues fax\b|^\s*erhalten von \*?\+?\d[\d\s*#]{4,}$|^\s*efax\b|"
    r"^\s*fax(?:-?nachricht)?\s*[:#]\s*[+\d])", re.IGNORECASE)
_FAX_BODY = re.compile(
    r"(sie haben (soeben |gerade )?(ein|einen) (neues |neuen )?(fax|telefax)\b|you have (just )?received a (new )?fax\b|"
    r"(ein|ein neues) fax (ist )?(von|für) .{0,40} (eingegangen|empfangen)|fax (message )?received from\b|"
    r"anzahl (der )?seiten:|number of pages:)", re.IGNORECASE)
_CALENDAR_SUBJECT = re.compile(
    r"^\s*(?:angenommen|akzeptiert|zugesagt|abgelehnt|mit vorbehalt angenommen|mit vorbehalt|vorläufig angenommen|"
    r"accepted|declined|tentative(?:ly accepted)?|antwort termineinladung|einladung angenommen|"
    r"einladung abgelehnt)\s*:", re.IGNORECASE)
_FEEDBACK_SUBJECT = re.compile(
    r"^\s*(?:complaint about message from\b|abuse report\b|spam report\b|email abuse report|"
    r"(?:fbl|feedback loop|arf) (?:report|complaint)|beschwerde über (?:eine )?(?:e-?mail|nachricht)|"
    r"spam-?beschwerde|missbrauchsmeldung)", re.IGNORECASE)
_FEEDBACK_BODY = re.compile(r"(^feedback-type:\s*\w+|this is an e-?mail abuse report|this is a spam report|"
                            r"an email (?:abuse|spam) complaint|received a complaint about)", re.IGNORECASE | re.MULTILINE)
_CHALLENGE = re.compile(
    r"(i am protecting myself from (receiving )?(junk|spam)|please (click|confirm|verify) .{0,60}(to (have|get) your "
    r"(message|e-?mail) delivered|that you are (a )?(human|real person))|your (message|e-?mail) (has been|was) "
    r"(waitlisted|held|quarantined) .{0,80}(confirm|verify|guest list)|add yourself to my .{0,20}(guest|allowed|"
    r"white) ?list|bitte bestätigen sie,? dass sie (kein (spam|roboter)|ein mensch)|um (die|ihre) (zustellung|"
    r"nachricht) .{0,40}(zu )?bestätigen|ihre (nachricht|e-?mail) wurde (zurückgehalten|in quarantäne)|"
    r"challenge[- ]response|spam ?arrest|mailinblack|boxbe)", re.IGNORECASE)
_SPAM_SUBJECT = re.compile(r"^\s*(?:\*{2,3}\s*spam\s*\*{2,3}|\[spam\]|\{spam\}|spam:)", re.IGNORECASE)
#: Newsletter and mailing phrases nobody writes in a support request.
_NEWSLETTER_BODY = re.compile(
    r"(sollte diese (e-?mail|nachricht|mail) nicht (korrekt|richtig|einwandfrei) (dargestellt|angezeigt) werden|"
    r"wenn diese (e-?mail|nachricht|mail) nicht (korrekt|richtig|einwandfrei) (dargestellt|angezeigt) wird|"
    r"(zur|die) online-?version (dieses|dieser|des) (newsletters?|e-?mail|mailings)|"
    r"(newsletter|e-?mail|mailing) (im|in ihrem) (web-?)?browser (ansehen|anzeigen|öffnen|lesen)|"
    r"(view|read|open) (this|the) (e-?mail|newsletter|message|mailing) (online|in (your|a|the) (web )?browser)|"
    r"(having )?trouble viewing this (e-?mail|message)|"
    r"you (are receiving|receive|received) this (e-?mail|message|newsletter) because|"
    r"sie erhalten diese[nr]? (e-?mail|nachricht|mail|newsletter|information)(en)?,? (weil|da)\b|"
    r"(click|klicken sie) (here|hier) to unsubscribe|to unsubscribe from (this|these|further|our|future|all)|"
    r"if you (no longer|do not|don't) wish to receive|wenn sie (diesen newsletter|diese (e-?mails?|nachrichten|"
    r"informationen)|keine weiteren [\w-]+) (nicht mehr |künftig nicht mehr )?(erhalten|empfangen|bekommen) "
    r"(möchten|wollen)|keine weiteren (pressemitteilungen|newsletter|e-?mails|informationen|mailings)\b[^?]{0,80}\?|"
    r"vom newsletter ab(melden|bestellen)|newsletter (ab)?(bestellen|abmelden) ?\||^\s*(abmelden|unsubscribe)\s*[|:]|"
    r"\|\s*(abmelden|unsubscribe)\s*$)",
    re.IGNORECASE | re.MULTILINE)
_NOREPLY = re.compile(r"^(no[-_.]?reply|do[-_.]?not[-_.]?reply|donotreply|no[-_.]?answer|noreply[-_.+].*|"
                      r".*[-_.]no[-_.]?reply|postmaster|hostmaster|notifications?|notify|automailer|mailer)$",
                      re.IGNORECASE)
_ANONYMOUS = re.compile(r"^(anonymous|unknown|nobody|undisclosed)$", re.IGNORECASE)
_DATA_BODY = re.compile(r"^\s*(?:<\?xml\b|begin [0-7]{3} \S|[{\[]\s*\"[\w-]+\"\s*:)", re.IGNORECASE)


@dataclass(frozen=True)
class OwnMail:
    """What makes a mail our own: the one list of our addresses, the domains derived from
    them (and from our Message-ID domain), and our Message-ID domain."""

    addresses: Tuple[str, ...]
    domains: Tuple[str, ...] = ()
    message_id_domain: str = ""


NO_OWN_MAIL = OwnMail(())


@dataclass(frozen=True)
class MailFacts:
    """What the checks look at. Header names are matched case-insensitively."""

    sender: str = ""
    subject: str = ""
    body: str = ""
    headers: Tuple[Tuple[str, str], ...] = ()
    own: OwnMail = NO_OWN_MAIL
    #: Content types of the mail's leaf parts and the METHOD of a calendar part.
    part_types: Tuple[str, ...] = ()
    calendar_method: str = ""
    #: The mail had a From field (False: only Sender, Reply-To or the envelope say who).
    has_from: bool = True

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
        return _address(self.sender)

    @property
    def own_text(self) -> str:
        """What the sender wrote in this mail, above any quoted or forwarded history."""
        return own_text(self.body[:20000])[:5000]


def _address(value: str) -> str:
    try:
        pairs = getaddresses([value]) if value else []
    except Exception:
        pairs = []
    for _name, address in pairs:
        if "@" in address:
            return address.strip().strip("<>").lower()
    return (value or "").strip().strip("<>").lower()


def _local(address: str) -> str:
    return address.rpartition("@")[0].strip('"') if "@" in address else address


def _domain(address: str) -> str:
    return address.rpartition("@")[2] if "@" in address else ""


def _envelope(m: MailFacts) -> str:
    """The envelope sender (Return-Path); '' for a forwarding service's SRS address, which
    says nothing about who wrote the mail."""
    address = _address(m.header("Return-Path") or "")
    return "" if re.match(r"srs[01][=+-]", address, re.IGNORECASE) else address


# -- machine rules ---------------------------------------------------------------------
def _own_address(m: MailFacts) -> bool:
    return bool(m.sender_address) and m.sender_address in m.own.addresses


def _own_message_id(m: MailFacts) -> bool:
    if not m.own.message_id_domain:
        return False
    message_id = (m.header("Message-ID") or "").strip().lower().rstrip(">")
    return message_id.endswith("@" + m.own.message_id_domain)


def _auto_submitted(m: MailFacts) -> bool:
    value = m.header("Auto-Submitted")
    return value is not None and value.split(";")[0].strip().lower() != "no"


def _bounce(m: MailFacts) -> bool:
    content_type = (m.header("Content-Type") or "").lower()
    if "multipart/report" in content_type or "message/delivery-status" in content_type:
        return True
    if any(t in ("message/delivery-status", "message/global-delivery-status") for t in m.part_types):
        return True
    return_path = m.header("Return-Path")
    if return_path is not None and return_path.strip() in ("<>", ""):
        return True
    local = _local(m.sender_address)
    if _BOUNCE_SENDER.match(local) or _BOUNCE_SENDER.match(m.sender.strip()):
        return True
    return bool(_BOUNCE_SUBJECT.match(m.subject.strip()))


def _mailing_list(m: MailFacts) -> bool:
    if m.has_header("List-Id") or m.has_header("List-Unsubscribe") or m.has_header("List-Post"):
        return True
    for value in (m.header("Sender"), m.header("Return-Path"), m.header("Errors-To")):
        address = _address(value or "")
        if address and _LIST_ENVELOPE.match(_local(address)):
            return True
    return False


def _x_autoreply(m: MailFacts) -> bool:
    return any(m.has_header(h) for h in ("X-Autoreply", "X-Autorespond", "X-Autoresponder", "X-Autogenerated",
                                         "X-AutoReply-From", "X-Mail-Autoreply", "X-FC-MachineGenerated"))


def _auto_response_suppress(m: MailFacts) -> bool:
    value = (m.header("X-Auto-Response-Suppress") or "").strip().lower()
    return bool(value) and value != "none"


def _receipt(m: MailFacts) -> bool:
    return bool(_RECEIPT_SUBJECT.search(m.subject))


def _out_of_office(m: MailFacts) -> bool:
    if _OOO_SUBJECT.search(m.subject):
        return True
    body = m.body[:3000]
    if _OOO_BODY_STRONG.search(body):
        return True
    # an auto-reply asks nothing; two different weak phrases in a mail without a question
    weak = {match.group(0).lower() for match in _OOO_BODY_WEAK.finditer(body)}
    return len(weak) >= 2 and "?" not in body


def _calendar_reply(m: MailFacts) -> bool:
    if m.calendar_method == "REPLY":
        return True
    return bool(_CALENDAR_SUBJECT.match(m.subject)) and any("calendar" in t or "ics" in t for t in m.part_types)


def _ticket_system(m: MailFacts) -> bool:
    return any(_TICKET_HEADER.match(key) for key, _ in m.headers) or bool(_TICKET_SUBJECT.match(m.subject))


def _bulk_mailer(m: MailFacts) -> bool:
    if any(key.lower() in _BULK_HEADERS for key, _ in m.headers):
        return True
    envelope = _envelope(m)
    if envelope and (_LIST_ENVELOPE.match(_local(envelope)) or _BOUNCE_DOMAIN.search(_domain(envelope))):
        return True
    if _BULK_MAILER.search(m.header("X-Mailer") or "") or _BULK_MAILER.search(m.header("User-Agent") or ""):
        return True
    # the inbound filter classified it as a mass mailing
    if any(key.lower().endswith("detected-infomail") and value.strip().lower() in ("yes", "true", "1")
           for key, value in m.headers):
        return True
    return bool(_NEWSLETTER_SENDER.search(_local(m.sender_address)) or _NEWSLETTER_SENDER.search(_display(m.sender)))


def _display(sender: str) -> str:
    try:
        pairs = getaddresses([sender]) if sender else []
    except Exception:
        pairs = []
    return pairs[0][0] if pairs else ""


def _spam_verdict(m: MailFacts) -> bool:
    if (m.header("X-Spam-Flag") or "").strip().lower() == "yes":
        return True
    if (m.header("X-Spam-Status") or "").strip().lower().startswith("yes"):
        return True
    return bool(_SPAM_SUBJECT.match(m.subject))


def _feedback_report(m: MailFacts) -> bool:
    if any(t == "message/feedback-report" for t in m.part_types):
        return True
    return bool(_FEEDBACK_SUBJECT.match(m.subject) or _FEEDBACK_BODY.search(m.own_text))


def _challenge_response(m: MailFacts) -> bool:
    return bool(_CHALLENGE.search(m.subject) or _CHALLENGE.search(m.own_text))


def _fax(m: MailFacts) -> bool:
    if any(t in ("multipart/fax-message", "image/tiff", "image/tif") for t in m.part_types) and not m.own_text.strip():
        return True
    if _FAX_SENDER.search(_local(m.sender_address)) or _FAX_SENDER.search(_local(_envelope(m))):
        return True
    return bool(_FAX_SUBJECT.search(m.subject) or _FAX_BODY.search(m.own_text[:1500]))


def _monitoring(m: MailFacts) -> bool:
    if any(m.has_header(h) for h in _MONITORING_HEADER):
        return True
    # the From only: mail fetched and delivered again locally has root@ as its envelope sender
    if _SYSTEM_ACCOUNT.match(_local(m.sender_address)):
        return True
    return bool(_MONITORING_SUBJECT.match(m.subject))


def _newsletter(m: MailFacts) -> bool:
    text = m.own_text
    return bool(_NEWSLETTER_BODY.search(text[:3000]) or _NEWSLETTER_BODY.search(text[-2000:]))


# -- doubt rules -----------------------------------------------------------------------------
def _own_domain(m: MailFacts) -> bool:
    domain = _domain(m.sender_address)
    return bool(domain) and any(domain == d or domain.endswith("." + d) for d in m.own.domains)


def _missing_from(m: MailFacts) -> bool:
    return not m.has_from


def _no_reply_sender(m: MailFacts) -> bool:
    for address in (m.sender_address, _address(m.header("Reply-To") or ""), _address(m.header("Sender") or "")):
        if address and _NOREPLY.match(_local(address)):
            return True
    return False


def _precedence(m: MailFacts) -> bool:
    return (m.header("Precedence") or "").strip().lower() in ("bulk", "list", "junk")


def _anonymous_sender(m: MailFacts) -> bool:
    return bool(m.sender_address) and bool(_ANONYMOUS.match(_local(m.sender_address)))


def _undisclosed_recipients(m: MailFacts) -> bool:
    return "undisclosed" in (m.header("To") or "").lower()


def _data_only(m: MailFacts) -> bool:
    """The body is data (XML, JSON, uuencode), not words."""
    return bool(_DATA_BODY.match(m.body[:200]))


Check = Callable[[MailFacts], bool]
#: Machine rules in order; the first that hits names the reason.
CHECKS: Sequence[Tuple[str, Check]] = (
    ("own_address", _own_address),
    ("own_message_id", _own_message_id),
    ("auto_submitted", _auto_submitted),
    ("bounce", _bounce),
    ("mailing_list", _mailing_list),
    ("x_autoreply", _x_autoreply),
    ("auto_response_suppress", _auto_response_suppress),
    ("read_receipt_or_ticket", _receipt),
    ("out_of_office", _out_of_office),
    ("calendar_reply", _calendar_reply),
    ("ticket_system", _ticket_system),
    ("bulk_mailer", _bulk_mailer),
    ("spam_verdict", _spam_verdict),
    ("feedback_report", _feedback_report),
    ("challenge_response", _challenge_response),
    ("fax", _fax),
    ("monitoring", _monitoring),
    ("newsletter", _newsletter),
)
#: Doubt rules: no automatic reply, the mail goes to staff (two of them: machine mail).
DOUBTS: Sequence[Tuple[str, Check]] = (
    ("own_domain", _own_domain),
    ("missing_from", _missing_from),
    ("no_reply_sender", _no_reply_sender),
    ("precedence_bulk", _precedence),
    ("anonymous_sender", _anonymous_sender),
    ("undisclosed_recipients", _undisclosed_recipients),
    ("data_only_body", _data_only),
)


@dataclass(frozen=True)
class Screening:
    """Loop protection's verdict on one mail."""

    #: The machine rule that hit: the mail is ignored. None: a person may have written it.
    machine: Optional[str] = None
    #: Doubt rules that hit: no automatic reply, staff get the mail.
    doubts: Tuple[str, ...] = ()


def screen_mail(facts: MailFacts) -> Screening:
    """Machine rules first (the first that hits), then the doubts; two different doubts
    make machine mail ("doubts:a+b")."""
    for name, check in CHECKS:
        if check(facts):
            return Screening(machine=name)
    doubts = tuple(name for name, check in DOUBTS if check(facts))
    if len(doubts) >= 2:
        return Screening(machine="doubts:" + "+".join(doubts[:2]), doubts=doubts)
    return Screening(doubts=doubts)


def facts_of(mail, own: OwnMail) -> MailFacts:
    """The facts of a parsed mail (mail_gateway.parsing.ParsedMail)."""
    return MailFacts(sender=mail.sender, subject=mail.subject, body=mail.body, headers=mail.headers, own=own,
                     part_types=mail.part_types, calendar_method=mail.calendar_method,
                     has_from=any(key.lower() == "from" for key, _ in mail.headers))


def auto_reply_reason(facts: MailFacts) -> Optional[str]:
    """The machine rule the mail hits, or None when a person may have written it."""
    return screen_mail(facts).machine


def own_mail(settings: Settings, from_address: Optional[str] = None) -> OwnMail:
    """`our_addresses` from the settings plus the sender of our replies (`from_address`,
    else mail.from_address; the gateway passes the one it resolved), the domains of these
    addresses and our Message-ID domain — derived here, once."""
    sender = from_address or settings.mail.from_address
    addresses = tuple(dict.fromkeys(tuple(settings.our_addresses) + ((sender.strip().lower(),) if sender else ())))
    domains = [a.rpartition("@")[2] for a in addresses if "@" in a]
    if settings.message_id_domain:
        domains.append(settings.message_id_domain.lower())
    return OwnMail(addresses, tuple(dict.fromkeys(d for d in domains if d)), settings.message_id_domain)


def screen(message: InboundMessage, own: OwnMail) -> InboundMessage:
    """An email with `auto_generated` set to the machine rule that hit (None: it may be
    answered); other channels, and messages whose channel already decided, unchanged."""
    if message.channel != "email" or message.auto_generated is not None:
        return message
    reason = auto_reply_reason(MailFacts(sender=message.sender, subject=message.subject or "", body=message.text,
                                         headers=message.headers, own=own))
    return replace(message, auto_generated=reason) if reason else message
