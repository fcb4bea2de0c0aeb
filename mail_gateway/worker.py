"""The worker: takes one mail from the queue, decides, stores the outcome and queues
the reply (one transaction); a second loop sends queued replies (the bot's and the
staff's, see staff_replies.py). Loop protection runs here, once per mail; routing is the
in-process Router (the same model and code as `ks1bot route`); whether a thread is with
staff comes from the conversation record (handoffs.py).

Nothing a customer sends ends in a log line or a `failed` row alone: a mail that cannot
be read becomes a handoff with the original attached (reason `unparseable_mail`); when
any later step fails (routing, composing, storing) or the mail keeps stopping the
worker, it becomes a handoff too (`processing_error`, `processing_crashed`),
acknowledged to the sender where there is an address that may be answered. Only when
the conversation record itself cannot be reached does the mail wait in the queue (it is
taken again when its lease runs out)."""
from __future__ import annotations

import datetime as dt
import logging
import re
import threading
import time
from typing import Any, Callable, Dict, List, Optional

from ks1bot.conversations.attachments import NewFile
from ks1bot.conversations.feedback import record_decision
from ks1bot.core import logs
from ks1bot.core.email_text import read_body
from ks1bot.core.language import detect_language
from ks1bot.core.messages import InboundMessage
from ks1bot.core.replies import handoff_acknowledgement
from ks1bot.core.support_hours import SupportHours
from mail_gateway import policy
from mail_gateway.compose import ReplyTo, compose_reply, reply_message_id, to_bytes
from mail_gateway.config import MailConfig
from mail_gateway.errors import RelayError, RelayTemporaryError, RelayUnconfirmed
from mail_gateway.handoffs import EmailHandoffs
from mail_gateway.loop_protection import Screening, facts_of, screen_mail
from mail_gateway.parsing import ParsedMail, parse_mail
from mail_gateway.sender import Sender
from mail_gateway.store import (ClaimLost, InboundRow, MailStore, NewOutbound, Outcome, OutboundRow, worker_id,
                                 write_atomic)
from mail_gateway.threads import thread_root

log = logging.getLogger("mail_gateway.worker")
MAX_BACKOFF_SECONDS = 600.0
#: Reasons of a mail handed to staff because the gateway could not handle it.
FAILURE_REASONS = ("unparseable_mail", "processing_error", "processing_crashed")
_WORDS = re.compile(r"[^\W_]+")


def backoff_seconds(attempt: int, base: float) -> float:
    """base, 2·base, 4·base, … at most 10 minutes."""
    return min(base * (2 ** max(attempt - 1, 0)), MAX_BACKOFF_SECONDS)


def limits_of(config: MailConfig) -> policy.Limits:
    o = config.options
    return policy.Limits(sender_limit=o.sender_limit, sender_window=dt.timedelta(minutes=o.sender_window_minutes),
                         thread_replies_per_day=o.thread_replies_per_day)


def ignore_decision(message_id: str, reason: str) -> Dict[str, Any]:
    """The decision line of a mail that was not classified (same shape as `ks1bot route`)."""
    return {"id": message_id, "language": None, "topic": None, "confidence": None, "route": "ignore",
            "priority": "normal", "reasons": [reason], "reply": ""}


def files_of(mail: ParsedMail) -> List[NewFile]:
    return [NewFile(a.filename, a.content_type, a.data) for a in mail.attachments]


def bare_thanks(mail: ParsedMail) -> bool:
    """A thanks the bot may ignore: a few words of the sender's own, nothing forwarded,
    quoted as a request or attached. A one-liner above a forwarded message is a request."""
    if mail.attachments and not all(a.inline for a in mail.attachments):
        return False
    body = read_body(mail.body)
    if body.forwarded or body.only_forwards:
        return False
    return len(_WORDS.findall(body.new_text)) <= 25


class Worker:
    def __init__(self, store: MailStore, router, config: MailConfig, sender: Sender, handoffs: EmailHandoffs, *,
                 clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.timezone.utc),
                 crash: Callable[..., None] = lambda step, **_ids: None,
                 on_outcome: Callable[[InboundRow, Outcome], None] = lambda row, outcome: None) -> None:
        self.store = store
        self.router = router
        self.config = config
        self.sender = sender
        #: The conversation record: handed-off mails are queued for staff there (before
        #: the outcome is stored, idempotent per Message-ID), and it says which threads
        #: are with staff.
        self.handoffs = handoffs
        self.clock = clock
        self.crash = crash
        self.on_outcome = on_outcome
        self.me = worker_id()
        self.limits = limits_of(config)
        self.hours = SupportHours(config.support_hours)
        self.wake_processing = threading.Event()
        self.wake_sending = threading.Event()

    # -- processing ------------------------------------------------------------------
    def process_next(self) -> bool:
        """Take one mail and store its outcome. Raises only when the conversation record or
        the queue cannot be written: then the mail stays claimed and is taken again."""
        row = self.store.claim_inbound(self.me)
        if row is None:
            return False
        if row.status == "exhausted":  # it stopped the worker again and again: a person reads it
            outcome = self.to_person(row, "processing_crashed", f"processing this mail stopped the worker "
                                     f"{row.attempts - 1} times", read_body=False)
        else:
            self.crash("after_claim", message_id=row.message_id)
            try:
                outcome = self.decide(row)
            except Exception as exc:  # one bad mail must not stop the gateway, nor get lost
                logs.event(log, "mail_processing_error", logging.ERROR, message_id=row.message_id, error=repr(exc))
                outcome = self.to_person(row, "processing_error", f"{type(exc).__name__}: {exc}")
        self.crash("after_route", message_id=row.message_id)
        if not self.store.finish(row.id, outcome, me=self.me):
            # the lease ran out (this worker lost the database too long): another worker has
            # the mail; it answers it, this one stores nothing
            logs.event(log, "mail_claim_lost", logging.WARNING, message_id=row.message_id)
            return True
        logs.event(log, "mail_" + outcome.status, message_id=row.message_id, conversation_id=outcome.conversation_id,
                   route=outcome.route, reason=outcome.reason,
                   reply_message_id=outcome.reply.message_id if outcome.reply else None)
        self.crash("after_store", message_id=row.message_id)
        if outcome.reply is not None:
            self.wake_sending.set()
        self.on_outcome(row, outcome)
        return True

    def _screen(self, mail: ParsedMail) -> Screening:
        return screen_mail(facts_of(mail, self.config.own))

    def decide(self, row: InboundRow) -> Outcome:
        raw = self.store.read_raw(row)
        mail = parse_mail(raw, row.envelope_sender)
        # the queue's key: the Message-ID, unless another mail came under the same id before
        key = row.message_id
        if mail.unparseable:
            return self.to_person(row, "unparseable_mail", mail.unparseable, raw=raw, mail=mail)
        cid = thread_root(mail.message_id, mail.in_reply_to, mail.references, self.store.conversation_of)
        received = dt.datetime.fromtimestamp(row.received_at, dt.timezone.utc)
        screening = self._screen(mail)
        now = self.clock().timestamp()
        address = mail.reply_address
        in_handoff = self.handoffs.with_staff(cid, key)
        context = policy.MailContext(
            auto_reason=screening.machine,
            has_reply_address=bool(address),
            in_handoff=in_handoff,
            replies_to_sender=self.store.auto_replies_to(address, now - self.limits.sender_window.total_seconds())
            if address else 0,
            replies_in_thread=self.store.auto_replies_in(cid, now - 86400),
            doubts=screening.doubts,
        )
        verdict = policy.verdict(context, self.limits)
        base = dict(conversation_id=cid, sender=mail.sender or address, subject=mail.subject, text=mail.body)
        if verdict.action == policy.IGNORE:
            return Outcome(status="ignored", route="ignore", reason=verdict.reason,
                           decision=ignore_decision(key, verdict.reason or ""), **base)
        stored = self.handoffs.save_files(cid, key, files_of(mail), self.config.options.max_attachment_bytes)
        # auto_generated=None: loop protection above found no machine mail (the router reads no headers)
        message = InboundMessage(
            id=key, channel="email", received_at=received, sender=mail.from_address or address,
            text=mail.body, subject=mail.subject, auto_generated=None, headers=mail.headers)
        routed = self.router.route(message)
        record_decision(self.handoffs.store, routed, cid)
        decision = dict(routed.to_output(), conversation_id=cid)
        if mail.attachments:
            decision["attachments"] = [{"filename": a.filename, "content_type": a.content_type, "size": a.size}
                                       for a in mail.attachments]
            decision["attachments_stored"] = stored
        if verdict.action == policy.FOLLOWUP:
            self.handoffs.record(routed, cid, key, followup=in_handoff)
            decision["reasons"] = [verdict.reason] + decision["reasons"]
            decision["bot_route"], decision["route"], decision["reply"] = decision["route"], "handoff", ""
            return Outcome(status="processed", route="handoff", reason=verdict.reason, decision=decision,
                           language=routed.language, **base)
        route = routed.decision.route
        reply_text = routed.reply
        reason = routed.decision.reasons[0] if routed.decision.reasons else None
        if route == "ignore" and not bare_thanks(mail):
            # only machine mail and a bare thanks are ignored: a person's request goes to staff
            route, reason = "handoff", "not_only_thanks"
            reply_text = self._acknowledgement(routed.language, received)
            decision["reasons"] = [reason] + decision["reasons"]
            decision["bot_route"], decision["route"], decision["reply"] = "ignore", "handoff", reply_text
            self.handoffs.record_failure(cid, key, mail.from_address or address, mail.subject,
                                         mail.body, routed.language, decision["reasons"], reply_text, received)
        elif route == "ignore" or not reply_text:
            reason = reason or "no_reply"
            return Outcome(status="ignored", route="ignore", reason=reason, decision=decision,
                           language=routed.language, **base)
        elif route == "handoff":
            self.handoffs.record(routed, cid, key, followup=False)
        reply = self._reply(mail, cid, reply_text, routed.language, key)
        return Outcome(status="processed", route=route, reason=reason, decision=decision, language=routed.language,
                       reply=reply, **base)

    # -- in front of a person when anything fails -------------------------------------
    def _acknowledgement(self, language: str, received: dt.datetime) -> str:
        open_now = self.hours.is_open(received)
        return handoff_acknowledgement(language, "email", open_now,
                                       None if open_now else self.hours.next_opening(received))

    def to_person(self, row: InboundRow, reason: str, error: str, *, raw: Optional[bytes] = None,
                  mail: Optional[ParsedMail] = None, read_body: bool = True) -> Outcome:
        """A handoff for a mail the gateway could not handle, with the original attached
        (and its files, when they could be read), acknowledged where an address may be
        answered. Raises only when the conversation record cannot be written."""
        if raw is None:
            try:
                raw = self.store.read_raw(row)
            except OSError as exc:
                raw, error = b"", f"{error}; the raw mail could not be read ({exc})"
        if mail is None:
            mail = parse_mail(raw, row.envelope_sender, headers_only=not read_body)
        try:
            cid = thread_root(mail.message_id, mail.in_reply_to, mail.references, self.store.conversation_of)
        except Exception:
            cid = mail.message_id
        received = dt.datetime.fromtimestamp(row.received_at, dt.timezone.utc)
        files = [NewFile("original-mail.eml", "message/rfc822", raw)]
        keys = ["original"]
        if read_body:
            files += files_of(mail)
            keys += [str(n) for n in range(len(mail.attachments))]
        self.handoffs.save_files(cid, row.message_id, files, self.config.options.max_attachment_bytes, keys)
        try:
            screening = self._screen(mail)
            language = detect_language(f"{mail.subject}\n{mail.body}"[:2000], self.config.default_language)
        except Exception:
            screening, language = Screening(machine="unreadable"), self.config.default_language
        address = mail.reply_address
        now = self.clock().timestamp()
        may_answer = bool(address) and screening.machine is None and not screening.doubts and \
            self.store.auto_replies_to(address, now - self.limits.sender_window.total_seconds()) < self.limits.sender_limit
        acknowledgement = self._acknowledgement(language, received) if may_answer else ""
        note = {"unparseable_mail": "The mail could not be read", "processing_error": "The mail could not be handled",
                "processing_crashed": "Handling this mail stopped the gateway again and again"}.get(reason, reason)
        text = f"[{note}: {error}. The original mail is attached.]\n\n{mail.body[:20000]}"
        reasons = [reason] + ([f"not_acknowledged:{screening.machine or (screening.doubts or ('no_sender',))[0]}"]
                              if not may_answer else [])
        handoff_id = self.handoffs.record_failure(cid, row.message_id, mail.from_address or address or "",
                                                  mail.subject, text, language, reasons, acknowledgement, received)
        # a handoff this mail opened before the failure is the one returned: the trail says what failed
        self.handoffs.store.add_event(handoff_id, "email", reason, error)
        reply = None
        if acknowledgement:
            try:
                reply = self._reply(mail, cid, acknowledgement, language, row.message_id)
            except Exception as exc:  # staff have the mail; the acknowledgement is what failed
                reasons.append("acknowledgement_failed")
                error = f"{error}; the acknowledgement could not be composed ({type(exc).__name__}: {exc})"
        logs.event(log, "mail_to_person", logging.WARNING, message_id=mail.message_id, conversation_id=cid,
                   reason=reason, handoff_id=handoff_id, acknowledged=reply is not None, error=error)
        decision = dict(ignore_decision(row.message_id, reason), route="handoff", language=language,
                        reasons=reasons, reply=acknowledgement if reply else "", handoff_id=handoff_id,
                        conversation_id=cid, error=error)
        return Outcome(status="processed", route="handoff", reason=reason, decision=decision, language=language,
                       reply=reply, error=error, conversation_id=cid, sender=mail.sender or address,
                       subject=mail.subject, text=mail.body)

    def _reply(self, mail: ParsedMail, cid: str, text: str, language: str, key: str) -> NewOutbound:
        """The automatic reply to `mail` (threaded on its Message-ID; our own id derived
        from the queue key, so a second mail under a reused id gets a reply of its own)."""
        message_id = reply_message_id(key, self.config.message_id_domain)
        parent = ReplyTo(mail.message_id, mail.references, mail.subject, mail.reply_address)
        msg = compose_reply(parent, text, language=language, from_address=self.config.from_address,
                            from_name=self.config.from_name, message_id=message_id, date=self.clock())
        path = self.store.replies_dir / (message_id.strip("<>").replace("/", "_") + ".eml")
        write_atomic(path, to_bytes(msg))
        return NewOutbound(message_id=message_id, conversation_id=cid, kind="auto_reply", recipient=mail.reply_address,
                           subject=str(msg["Subject"]), text=text, language=language,
                           eml_path=str(path.relative_to(self.store.directory)))

    # -- sending ---------------------------------------------------------------------
    def send_next(self) -> bool:
        row = self.store.claim_outbound(self.me)
        if row is None:
            return False
        self.send(row)
        return True

    def send(self, row: OutboundRow) -> None:
        data = (self.store.directory / row.eml_path).read_bytes()
        try:
            self.sender.send(self.config.from_address, row.recipient, data, row.message_id,
                             lambda: self.store.mark_sending(row.id, self.me))
        except ClaimLost:  # the relay got no final dot: the worker that took the reply over sends it
            logs.event(log, "reply_claim_lost", logging.WARNING, message_id=row.message_id,
                       conversation_id=row.conversation_id)
            return
        except RelayUnconfirmed as exc:
            self.store.mark_outbound(row.id, "unconfirmed", str(exc))
            logs.event(log, "reply_unconfirmed", logging.ERROR, message_id=row.message_id,
                       conversation_id=row.conversation_id, error=str(exc))
            self.reply_undelivered(row, "unconfirmed", str(exc))
            return
        except RelayError as exc:
            if isinstance(exc, RelayTemporaryError) and row.attempts < self.config.options.send_attempts:
                delay = backoff_seconds(row.attempts, self.config.options.retry_seconds)
                self.store.retry_later(row.id, str(exc), time.time() + delay)
                logs.event(log, "reply_retry", logging.WARNING, message_id=row.message_id,
                           conversation_id=row.conversation_id, attempt=row.attempts, retry_in=delay, error=str(exc))
            else:
                self.store.mark_outbound(row.id, "failed", f"{exc} (after {row.attempts} attempts)")
                logs.event(log, "reply_failed", logging.ERROR, message_id=row.message_id,
                           conversation_id=row.conversation_id, attempts=row.attempts, error=str(exc))
                self.reply_undelivered(row, "failed", str(exc))
            return
        except Exception as exc:  # the reply file vanished, a bug: keep it visible, keep going
            self.store.mark_outbound(row.id, "failed", f"{type(exc).__name__}: {exc}")
            logs.event(log, "reply_failed", logging.ERROR, message_id=row.message_id,
                       conversation_id=row.conversation_id, error=repr(exc))
            self.reply_undelivered(row, "failed", f"{type(exc).__name__}: {exc}")
            return
        self.crash("after_relay_accept", message_id=row.message_id)
        self.store.mark_sent(row.id)
        logs.event(log, "reply_sent", message_id=row.message_id, conversation_id=row.conversation_id,
                   recipient=row.recipient, kind=row.kind, attempt=row.attempts)
        self.crash("after_sent", message_id=row.message_id)

    def hand_over_unconfirmed(self) -> int:
        """At start: replies that `recover` found caught mid-send (they may or may not have
        reached the customer) go to staff like undelivered ones, once each."""
        handed = 0
        for row in self.store.query("SELECT * FROM outbound WHERE state='unconfirmed' AND kind='auto_reply'"):
            key = f"staff_told:{row['id']}"
            if self.store.state_get(key) is None:
                outbound = OutboundRow(row["id"], row["message_id"], row["conversation_id"], row["kind"],
                                       row["recipient"], row["eml_path"], row["state"], row["attempts"])
                if self.reply_undelivered(outbound, "unconfirmed", row["last_error"] or ""):
                    self.store.state_set(key, "1")
                    handed += 1
        return handed

    def reply_undelivered(self, row: OutboundRow, state: str, error: str) -> bool:
        """The bot's reply to a customer could not be delivered (or may not have been):
        the conversation goes to staff — its open handoff gets a note, or a new handoff is
        opened with the customer's mail and the undelivered reply as the draft. Staff
        replies report their fate to the console themselves (staff_replies.py)."""
        if row.kind != "auto_reply":
            return False
        try:
            inbound = self.store.inbound_of_reply(row.id)
            note = f"the reply to {row.recipient} was not delivered ({state}): {error}"
            existing = self.handoffs.store.open_handoff_for("email", row.conversation_id)
            if existing is not None:
                self.handoffs.store.add_event(existing, "email", "delivery_failed", note)
                return True
            received = dt.datetime.fromtimestamp(inbound["received_at"] if inbound else time.time(), dt.timezone.utc)
            self.handoffs.record_failure(
                row.conversation_id, inbound["message_id"] if inbound else row.message_id,
                (inbound or {}).get("sender") or row.recipient, (inbound or {}).get("subject") or "",
                f"[{note}]\n\n{(inbound or {}).get('text') or ''}", (inbound or {}).get("language") or
                self.config.default_language, ["reply_undelivered"], "", received,
                drafted_answer=self.store.outbound(row.message_id)["text"] if self.store.outbound(row.message_id) else None)
            return True
        except Exception as exc:  # the conversation record is down: the row stays visible in `mail status`
            logs.event(log, "reply_undelivered_not_handed_over", logging.ERROR, message_id=row.message_id, error=repr(exc))
            return False

    # -- loops -----------------------------------------------------------------------
    def run_processing(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                busy = self.process_next()
            except Exception as exc:  # the database is locked or the disk full: wait and retry
                logs.event(log, "worker_error", logging.ERROR, error=repr(exc))
                busy = False
                stop.wait(1.0)
            if not busy:
                self.wake_processing.wait(1.0)
                self.wake_processing.clear()

    def run_sending(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                busy = self.send_next()
            except Exception as exc:
                logs.event(log, "sender_error", logging.ERROR, error=repr(exc))
                busy = False
                stop.wait(1.0)
            if not busy:
                due = self.store.next_outbound_due()
                wait = 1.0 if due is None else min(max(due - time.time(), 0.01), 1.0)
                self.wake_sending.wait(wait)
                self.wake_sending.clear()
