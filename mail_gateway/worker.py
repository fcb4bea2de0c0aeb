"""The worker: takes one mail from the queue, decides, stores the outcome and queues
the reply (one transaction); a second loop sends queued replies (the bot's and the
staff's, see staff_replies.py). Loop protection runs here, once per mail; routing is the
in-process Router (the same model and code as `ks1bot route`); whether a thread is with
staff comes from the conversation record (handoffs.py)."""
from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from typing import Any, Callable, Dict

from ks1bot.core import logs
from ks1bot.core.messages import InboundMessage
from mail_gateway import policy
from mail_gateway.compose import ReplyTo, compose_reply, reply_message_id, to_bytes
from mail_gateway.config import MailConfig
from mail_gateway.errors import MalformedMail, RelayError, RelayTemporaryError, RelayUnconfirmed
from mail_gateway.handoffs import EmailHandoffs
from mail_gateway.loop_protection import MailFacts, auto_reply_reason
from mail_gateway.parsing import ParsedMail, parse_mail
from mail_gateway.sender import Sender
from mail_gateway.store import InboundRow, MailStore, NewOutbound, Outcome, OutboundRow, worker_id, write_atomic
from mail_gateway.threads import thread_root

log = logging.getLogger("mail_gateway.worker")
MAX_BACKOFF_SECONDS = 600.0


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
        self.wake_processing = threading.Event()
        self.wake_sending = threading.Event()

    # -- processing ------------------------------------------------------------------
    def process_next(self) -> bool:
        row = self.store.claim_inbound(self.me)
        if row is None:
            return False
        if row.status == "failed":  # crashed the worker too often
            logs.event(log, "mail_failed", logging.ERROR, message_id=row.message_id, reason="processing_crashed")
            self.on_outcome(row, Outcome(status="failed"))
            return True
        self.crash("after_claim", message_id=row.message_id)
        try:
            outcome = self.decide(row)
        except Exception as exc:  # one bad mail must not stop the gateway: the failure queue
            logs.event(log, "mail_failed", logging.ERROR, message_id=row.message_id, error=repr(exc))
            reason = "malformed" if isinstance(exc, MalformedMail) else "processing_error"
            outcome = Outcome(status="failed", reason=reason, error=f"{type(exc).__name__}: {exc}",
                              decision=ignore_decision(row.message_id, reason) | {"route": None})
        self.crash("after_route", message_id=row.message_id)
        self.store.finish(row.id, outcome)
        logs.event(log, "mail_" + outcome.status, message_id=row.message_id, conversation_id=outcome.conversation_id,
                   route=outcome.route, reason=outcome.reason,
                   reply_message_id=outcome.reply.message_id if outcome.reply else None)
        self.crash("after_store", message_id=row.message_id)
        if outcome.reply is not None:
            self.wake_sending.set()
        self.on_outcome(row, outcome)
        return True

    def decide(self, row: InboundRow) -> Outcome:
        raw = self.store.read_raw(row)
        mail = parse_mail(raw, row.envelope_sender)
        cid = thread_root(mail.message_id, mail.in_reply_to, mail.references, self.store.conversation_of)
        received = dt.datetime.fromtimestamp(row.received_at, dt.timezone.utc)
        own = self.config.own
        auto = auto_reply_reason(MailFacts(
            sender=mail.sender, subject=mail.subject, body=mail.body, headers=mail.headers,
            our_addresses=own.addresses, our_message_id_domain=own.message_id_domain))
        now = self.clock().timestamp()
        address = mail.reply_address
        context = policy.MailContext(
            auto_reason=auto,
            has_reply_address=bool(address),
            in_handoff=self.handoffs.with_staff(cid, mail.message_id),
            replies_to_sender=self.store.auto_replies_to(address, now - self.limits.sender_window.total_seconds())
            if address else 0,
            replies_in_thread=self.store.auto_replies_in(cid, now - 86400),
        )
        verdict = policy.verdict(context, self.limits)
        base = dict(conversation_id=cid, sender=mail.sender or address, subject=mail.subject, text=mail.body)
        if verdict.action == policy.IGNORE:
            return Outcome(status="ignored", route="ignore", reason=verdict.reason,
                           decision=ignore_decision(mail.message_id, verdict.reason or ""), **base)
        # auto_generated=None: loop protection above found nothing (the router reads no headers)
        message = InboundMessage(
            id=mail.message_id, channel="email", received_at=received, sender=mail.from_address or address,
            text=mail.body, subject=mail.subject, auto_generated=None, headers=mail.headers)
        routed = self.router.route(message)
        decision = dict(routed.to_output(), conversation_id=cid)
        if mail.attachments:
            decision["attachments"] = [{"filename": a.filename, "content_type": a.content_type, "size": a.size}
                                       for a in mail.attachments]
        if verdict.action == policy.FOLLOWUP:
            self.handoffs.record(routed, cid, mail.message_id, followup=verdict.reason == "handoff_followup")
            decision["reasons"] = [verdict.reason] + decision["reasons"]
            decision["bot_route"], decision["route"], decision["reply"] = decision["route"], "handoff", ""
            return Outcome(status="processed", route="handoff", reason=verdict.reason, decision=decision,
                           language=routed.language, **base)
        route = routed.decision.route
        if route == "ignore" or not routed.reply:
            reason = routed.decision.reasons[0] if routed.decision.reasons else "no_reply"
            return Outcome(status="ignored", route="ignore", reason=reason, decision=decision,
                           language=routed.language, **base)
        reply = self._reply(mail, cid, routed.reply, routed.language)
        if route == "handoff":
            self.handoffs.record(routed, cid, mail.message_id, followup=False)
        return Outcome(status="processed", route=route, reason=routed.decision.reasons[0] if routed.decision.reasons else None,
                       decision=decision, language=routed.language, reply=reply, **base)

    def _reply(self, mail: ParsedMail, cid: str, text: str, language: str) -> NewOutbound:
        message_id = reply_message_id(mail.message_id, self.config.message_id_domain)
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
                             lambda: self.store.mark_sending(row.id))
        except RelayUnconfirmed as exc:
            self.store.mark_outbound(row.id, "unconfirmed", str(exc))
            logs.event(log, "reply_unconfirmed", logging.ERROR, message_id=row.message_id,
                       conversation_id=row.conversation_id, error=str(exc))
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
            return
        except Exception as exc:  # the reply file vanished, a bug: keep it visible, keep going
            self.store.mark_outbound(row.id, "failed", f"{type(exc).__name__}: {exc}")
            logs.event(log, "reply_failed", logging.ERROR, message_id=row.message_id,
                       conversation_id=row.conversation_id, error=repr(exc))
            return
        self.crash("after_relay_accept", message_id=row.message_id)
        self.store.mark_sent(row.id)
        logs.event(log, "reply_sent", message_id=row.message_id, conversation_id=row.conversation_id,
                   recipient=row.recipient, kind=row.kind, attempt=row.attempts)
        self.crash("after_sent", message_id=row.message_id)

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
