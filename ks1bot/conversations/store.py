"""The handoff store: the one record of who holds a conversation (with staff while a
handoff is open or claimed, else with the bot), its messages, actions and audit trail.

Every state change is one transaction; an action carries the form's one-time token
(idempotency key) so a double-submitted form has one effect; two staff claiming at once
are decided by a conditional UPDATE (one wins). A staff reply or a hand-back is one
transaction that also writes the outbox row its channel delivers (`outbox.py`): nothing
here talks to a channel, and nothing calls out over the network inside a transaction.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass, field
from typing import Callable, List, Optional, Sequence, Tuple

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import selectinload

from ks1bot.conversations.attachments import Attachments, FileView, NewFile
from ks1bot.conversations.db import StoreUnavailable, session_factory, utc
from ks1bot.conversations.models import AuditEvent, ConversationMessage, Handoff
from ks1bot.conversations.outbox import DELIVERING_CHANNELS, OutboxItem, item_of, new_row
from ks1bot.conversations.sla import SlaPolicy, SlaState, sla_state
from ks1bot.core import logs
from ks1bot.core.messages import now_utc
from ks1bot.core.support_hours import SupportHours

log = logging.getLogger("ks1bot.conversations.store")


@dataclass(frozen=True)
class NewHandoff:
    """What a channel knows when it hands a conversation to a person."""

    channel: str
    conversation_id: str
    sender: str
    topic: str
    confidence: float
    reasons: Tuple[str, ...]
    priority: str
    language: str
    customer_text: str
    acknowledgement: str = ""
    subject: Optional[str] = None
    customer_id: Optional[str] = None
    customer_name: Optional[str] = None
    contract: Optional[str] = None
    drafted_answer: Optional[str] = None
    drafted_source: Optional[str] = None
    callback_number: Optional[str] = None
    source_message_id: Optional[str] = None
    created_at: Optional[dt.datetime] = None


@dataclass(frozen=True)
class MessageView:
    direction: str
    author: str
    text: str
    created_at: dt.datetime


@dataclass(frozen=True)
class EventView:
    actor: str
    action: str
    detail: str
    at: dt.datetime


@dataclass(frozen=True)
class HandoffView:
    id: int
    channel: str
    conversation_id: str
    sender: str
    subject: Optional[str]
    language: str
    topic: str
    confidence: float
    reasons: Tuple[str, ...]
    priority: str
    status: str
    customer_id: Optional[str]
    customer_name: Optional[str]
    contract: Optional[str]
    drafted_answer: Optional[str]
    drafted_source: Optional[str]
    acknowledgement: Optional[str]
    callback_number: Optional[str]
    created_at: dt.datetime
    claimed_by: Optional[str]
    claimed_at: Optional[dt.datetime]
    resolved_at: Optional[dt.datetime]
    sla_due_at: dt.datetime
    sla: SlaState
    first_text: str = ""
    messages: Tuple[MessageView, ...] = field(default=())
    events: Tuple[EventView, ...] = field(default=())
    #: Staff replies and hand-backs with their delivery state (the outbox rows).
    deliveries: Tuple[OutboxItem, ...] = field(default=())
    #: The conversation's files: what the customer sent, what staff attached.
    attachments: Tuple[FileView, ...] = field(default=())


@dataclass(frozen=True)
class ActionResult:
    ok: bool
    #: One sentence for the staff member.
    message: str
    handoff: Optional[HandoffView] = None
    #: What happened, as one of a fixed set of codes (the console shows its own sentence
    #: for a code; nothing a client writes is echoed): see RESULT_CODES.
    code: str = ""


#: The codes of ActionResult.
RESULT_CODES = (
    "claimed", "already_yours", "claim_lost", "duplicate", "duplicate_reply", "reply_empty", "reply_sent",
    "reply_queued", "resolved", "handed_back", "not_found", "already_resolved", "already_handed_back",
    "claimed_by_other", "files_not_kept", "files_email_only",
)


FINAL_STATUSES = ("resolved", "handed_back")


class HandoffStore:
    def __init__(self, engine, hours: SupportHours, sla: SlaPolicy = SlaPolicy(),
                 clock: Callable[[], dt.datetime] = now_utc, files: Optional[Attachments] = None) -> None:
        self.engine = engine
        #: The conversations' files (None: this store keeps none, and replies take none).
        self.files = files
        self.Session = session_factory(engine)
        self.hours = hours
        self.sla = sla
        self.clock = clock

    # -- helpers --------------------------------------------------------------------------
    def _view(self, row: Handoff, full: bool = False) -> HandoffView:
        now = self.clock()
        due = utc(row.sla_due_at)
        messages = tuple(
            MessageView(m.direction, m.author, m.text, utc(m.created_at)) for m in row.messages
        ) if full else ()
        events = tuple(EventView(e.actor, e.action, e.detail, utc(e.at)) for e in row.events) if full else ()
        deliveries = tuple(item_of(o) for o in row.outbox) if full else ()
        first = ""
        if full and messages:
            first = next((m.text for m in messages if m.direction == "customer"), "")
        return HandoffView(
            id=row.id, channel=row.channel, conversation_id=row.conversation_id, sender=row.sender,
            subject=row.subject, language=row.language, topic=row.topic, confidence=row.confidence,
            reasons=tuple(json.loads(row.reasons or "[]")), priority=row.priority, status=row.status,
            customer_id=row.customer_id, customer_name=row.customer_name, contract=row.contract,
            drafted_answer=row.drafted_answer, drafted_source=row.drafted_source,
            acknowledgement=row.acknowledgement, callback_number=row.callback_number,
            created_at=utc(row.created_at), claimed_by=row.claimed_by, claimed_at=utc(row.claimed_at),
            resolved_at=utc(row.resolved_at), sla_due_at=due,
            sla=sla_state(self.hours, due, now, row.status in FINAL_STATUSES),
            first_text=first, messages=messages, events=events, deliveries=deliveries,
            attachments=tuple(self.files.for_conversation(row.channel, row.conversation_id))
            if full and self.files is not None else (),
        )

    def _guard(self, action: Callable):
        try:
            return action()
        except OperationalError as exc:
            logs.event(log, "store_unavailable", logging.ERROR, error=str(exc.orig if hasattr(exc, "orig") else exc))
            raise StoreUnavailable("The handoff database cannot be reached; nothing was changed.") from exc

    # -- channels write -------------------------------------------------------------------
    def create(self, new: NewHandoff) -> int:
        """Create a handoff (idempotent per source message id); returns its id. A
        conversation has at most one handoff with staff: while one is open or claimed, a
        further message (a flood, a second server racing) joins it instead."""
        def run() -> int:
            created = utc(new.created_at) or self.clock()
            with self.Session.begin() as session:
                if new.source_message_id:
                    existing = session.execute(
                        select(Handoff.id).where(Handoff.source_message_id == new.source_message_id)
                    ).scalar()
                    if existing:
                        return existing
                open_one = session.execute(
                    select(Handoff.id).where(Handoff.channel == new.channel,
                                             Handoff.conversation_id == new.conversation_id,
                                             Handoff.status.in_(("open", "claimed"))).order_by(Handoff.id)
                ).scalars().first()
                if open_one is not None:
                    session.add(ConversationMessage(handoff_id=open_one, direction="customer",
                                                    author=new.sender or "", text=new.customer_text,
                                                    created_at=created))
                    session.add(AuditEvent(handoff_id=open_one, actor=new.sender or "customer",
                                           action="customer_message", detail=new.customer_text[:200], at=created))
                    logs.event(log, "handoff_joined", handoff_id=open_one, channel=new.channel,
                               conversation_id=new.conversation_id)
                    return open_one
                row = Handoff(
                    channel=new.channel, conversation_id=new.conversation_id, sender=new.sender or "",
                    subject=new.subject, language=new.language, topic=new.topic, confidence=new.confidence,
                    reasons=json.dumps(list(new.reasons)), priority=new.priority, status="open",
                    customer_id=new.customer_id, customer_name=new.customer_name, contract=new.contract,
                    drafted_answer=new.drafted_answer, drafted_source=new.drafted_source,
                    acknowledgement=new.acknowledgement, callback_number=new.callback_number,
                    source_message_id=new.source_message_id, created_at=created,
                    sla_due_at=self.sla.due(self.hours, created, new.priority),
                )
                session.add(row)
                session.flush()
                session.add(ConversationMessage(handoff_id=row.id, direction="customer", author=new.sender or "",
                                                text=new.customer_text, created_at=created))
                if new.acknowledgement:
                    session.add(ConversationMessage(handoff_id=row.id, direction="bot", author="KS1 bot",
                                                    text=new.acknowledgement, created_at=created))
                session.add(AuditEvent(handoff_id=row.id, actor="bot", action="created",
                                       detail=", ".join(new.reasons), at=created))
                handoff_id = row.id
            logs.event(log, "handoff_created", handoff_id=handoff_id, channel=new.channel,
                       conversation_id=new.conversation_id, topic=new.topic, priority=new.priority)
            return handoff_id
        try:
            return self._guard(run)
        except IntegrityError:  # the same source message raced in from two workers
            with self.Session() as session:
                return session.execute(
                    select(Handoff.id).where(Handoff.source_message_id == new.source_message_id)
                ).scalar_one()

    def add_customer_message(self, handoff_id: int, author: str, text: str,
                             at: Optional[dt.datetime] = None, source_message_id: Optional[str] = None) -> None:
        """A further customer message in a conversation that is with staff (once per source id)."""
        key = f"message:{source_message_id}"[:64] if source_message_id else None

        def run() -> None:
            with self.Session.begin() as session:
                session.add(AuditEvent(handoff_id=handoff_id, actor=author or "customer", action="customer_message",
                                       detail=text[:200], at=utc(at) or self.clock(), idempotency_key=key))
                session.flush()
                session.add(ConversationMessage(handoff_id=handoff_id, direction="customer", author=author,
                                                text=text, created_at=utc(at) or self.clock()))
        try:
            self._guard(run)
        except IntegrityError:  # the same mail again (a retry after a crash)
            pass

    def add_event(self, handoff_id: int, actor: str, action: str, detail: str) -> None:
        """A note in a handoff's audit trail from a channel ("delivery_failed: …")."""
        def run() -> None:
            with self.Session.begin() as session:
                session.add(AuditEvent(handoff_id=handoff_id, actor=actor, action=action, detail=detail[:2000],
                                       at=self.clock()))
        self._guard(run)

    def open_handoff_for(self, channel: str, conversation_id: str, not_from: Optional[str] = None) -> Optional[int]:
        """The handoff a conversation is in (open or claimed), if any: while there is one,
        the conversation is with staff. `not_from`: leave out a handoff that this source
        message itself created (a channel deciding on the same message again after a crash)."""
        def run() -> Optional[int]:
            query = select(Handoff.id).where(Handoff.channel == channel, Handoff.conversation_id == conversation_id,
                                             Handoff.status.in_(("open", "claimed")))
            if not_from is not None:
                query = query.where(or_(Handoff.source_message_id.is_(None), Handoff.source_message_id != not_from))
            with self.Session() as session:
                return session.execute(query.order_by(Handoff.id.desc())).scalars().first()
        return self._guard(run)

    # -- staff read -----------------------------------------------------------------------
    def list(self, status: Optional[str] = None, channel: Optional[str] = None, topic: Optional[str] = None,
             priority: Optional[str] = None, limit: int = 500) -> List[HandoffView]:
        """Handoffs, oldest first (the one waiting longest on top)."""
        def run() -> List[HandoffView]:
            query = select(Handoff)
            if status:
                query = query.where(Handoff.status == status)
            if channel:
                query = query.where(Handoff.channel == channel)
            if topic:
                query = query.where(Handoff.topic == topic)
            if priority:
                query = query.where(Handoff.priority == priority)
            query = query.order_by(Handoff.created_at.asc(), Handoff.id.asc()).limit(limit)
            with self.Session() as session:
                return [self._view(row) for row in session.execute(query).scalars()]
        return self._guard(run)

    def get(self, handoff_id: int) -> Optional[HandoffView]:
        def run() -> Optional[HandoffView]:
            with self.Session() as session:
                row = session.execute(
                    select(Handoff).where(Handoff.id == handoff_id)
                    .options(selectinload(Handoff.messages), selectinload(Handoff.events),
                             selectinload(Handoff.outbox))
                ).scalar()
                return self._view(row, full=True) if row else None
        return self._guard(run)

    def latest_id(self) -> int:
        def run() -> int:
            with self.Session() as session:
                return session.execute(select(func.max(Handoff.id))).scalar() or 0
        return self._guard(run)

    def created_after(self, handoff_id: int) -> List[HandoffView]:
        def run() -> List[HandoffView]:
            with self.Session() as session:
                rows = session.execute(select(Handoff).where(Handoff.id > handoff_id).order_by(Handoff.id)).scalars()
                return [self._view(row) for row in rows]
        return self._guard(run)

    def topics(self) -> List[str]:
        def run() -> List[str]:
            with self.Session() as session:
                return sorted(session.execute(select(Handoff.topic).distinct()).scalars())
        return self._guard(run)

    # -- staff actions --------------------------------------------------------------------
    def _refusal(self, row: Optional[Handoff], staff: str) -> Optional[ActionResult]:
        if row is None:
            return ActionResult(False, "This handoff does not exist.", code="not_found")
        if row.status == "resolved":
            return ActionResult(False, f"Nothing to do: this handoff was already resolved by "
                                       f"{row.claimed_by or 'a colleague'}.", code="already_resolved")
        if row.status == "handed_back":
            return ActionResult(False, "Nothing to do: this handoff was already handed back to the bot.",
                                code="already_handed_back")
        if row.status == "claimed" and row.claimed_by != staff:
            return ActionResult(False, f"{row.claimed_by} is already working on this handoff.",
                                code="claimed_by_other")
        return None

    def _reserve(self, session, handoff_id: int, staff: str, action: str, key: Optional[str], detail: str = ""):
        """Write the audit event first: its unique token makes a repeated form a no-op."""
        event = AuditEvent(handoff_id=handoff_id, actor=staff, action=action, detail=detail,
                           at=self.clock(), idempotency_key=key or None)
        session.add(event)
        session.flush()
        return event

    def _already_done(self, key: Optional[str]) -> bool:
        if not key:
            return False
        with self.Session() as session:
            return session.execute(select(AuditEvent.id).where(AuditEvent.idempotency_key == key)).scalar() is not None

    def claim(self, handoff_id: int, staff: str, key: Optional[str] = None) -> ActionResult:
        def run() -> ActionResult:
            if self._already_done(key):
                return ActionResult(True, "Already done (the form was sent twice).", self.get(handoff_id),
                                    code="duplicate")
            with self.Session.begin() as session:
                row = session.get(Handoff, handoff_id)
                if row is not None and row.status == "claimed" and row.claimed_by == staff:
                    return ActionResult(True, "You are already working on this handoff.", code="already_yours")
                refusal = self._refusal(row, staff)
                if refusal:
                    return refusal
                won = session.execute(
                    update(Handoff).where(Handoff.id == handoff_id, Handoff.status == "open")
                    .values(status="claimed", claimed_by=staff, claimed_at=self.clock())
                    .execution_options(synchronize_session=False)
                ).rowcount
                if won != 1:
                    session.rollback()
                    current = self.get(handoff_id)
                    return ActionResult(False, f"{current.claimed_by if current else 'A colleague'} claimed this "
                                               "handoff first.", code="claim_lost")
                self._reserve(session, handoff_id, staff, "claimed", key)
            logs.event(log, "handoff_claimed", handoff_id=handoff_id, staff=staff)
            return ActionResult(True, "You are working on this handoff now.", self.get(handoff_id), code="claimed")
        try:
            return self._guard(run)
        except IntegrityError:
            return ActionResult(True, "Already done (the form was sent twice).", self.get(handoff_id),
                                code="duplicate")

    def reply(self, handoff_id: int, staff: str, text: str, key: Optional[str] = None,
              files: Sequence[NewFile] = ()) -> ActionResult:
        """Record a staff reply and queue it for the handoff's channel, in one transaction:
        the conversation message, the audit event, the claim (when open), the outbox row
        and the files attached to it (email only). The channel's own process sends it; the
        handoff's page shows how far it got."""
        text = (text or "").strip()
        if not text:
            return ActionResult(False, "The reply is empty; write the answer for the customer first.",
                                code="reply_empty")
        files = [f for f in files if f.data or f.filename]
        if files and self.files is None:
            return ActionResult(False, "This installation keeps no files; send the reply without attachments.",
                                code="files_not_kept")

        def run() -> ActionResult:
            if self._already_done(key):
                return ActionResult(True, "Already sent (the form was sent twice).", self.get(handoff_id),
                                    code="duplicate_reply")
            with self.Session.begin() as session:
                row = session.get(Handoff, handoff_id)
                refusal = self._refusal(row, staff)
                if refusal:
                    return refusal
                now = self.clock()
                if row.status == "open":
                    row.status, row.claimed_by, row.claimed_at = "claimed", staff, now
                if files and row.channel != "email":
                    return ActionResult(False, f"Files can only be sent by email; this is a {row.channel} "
                                               "conversation. Send the reply without attachments.",
                                        code="files_email_only")
                item = new_row(row, "staff_reply", text, staff, now)
                names = ", ".join(f.filename for f in files)
                self._reserve(session, handoff_id, staff, "replied", key,
                              f"{item.note}: {text[:200]}" + (f" [files: {names}]"[:300] if files else ""))
                session.add(ConversationMessage(handoff_id=handoff_id, direction="staff", author=staff,
                                                text=text + (f"\n\n[Attached: {names}]" if files else ""),
                                                created_at=now))
                session.add(item)
                if files:
                    session.flush()
                    for file_row in self.files.staff_rows(row.channel, row.conversation_id, item.id, files,
                                                          key or f"outbox-{item.id}"):
                        session.add(file_row)
                channel, conversation_id, note = row.channel, row.conversation_id, item.note
            logs.event(log, "staff_replied", handoff_id=handoff_id, staff=staff, channel=channel,
                       conversation_id=conversation_id)
            if channel not in DELIVERING_CHANNELS:
                return ActionResult(True, f"Reply sent ({note}).", self.get(handoff_id), code="reply_sent")
            return ActionResult(True, f"Reply queued ({note}); its delivery is shown below.", self.get(handoff_id),
                                code="reply_queued")
        try:
            return self._guard(run)
        except IntegrityError:
            return ActionResult(True, "Already sent (the form was sent twice).", self.get(handoff_id),
                                code="duplicate_reply")

    def _finish(self, handoff_id: int, staff: str, key: Optional[str], status: str, action: str,
                message: str, detail: str = "", notify: bool = False) -> ActionResult:
        """Close the handoff; `notify`: queue a notification for its channel (same transaction)."""
        def run() -> ActionResult:
            if self._already_done(key):
                return ActionResult(True, "Already done (the form was sent twice).", self.get(handoff_id),
                                    code="duplicate")
            with self.Session.begin() as session:
                row = session.get(Handoff, handoff_id)
                refusal = self._refusal(row, staff)
                if refusal:
                    return refusal
                now = self.clock()
                row.status = status
                row.resolved_at = now
                row.claimed_by = row.claimed_by or staff
                self._reserve(session, handoff_id, staff, action, key, detail)
                if notify:
                    session.add(new_row(row, "hand_back", "", staff, now))
            logs.event(log, f"handoff_{action}", handoff_id=handoff_id, staff=staff)
            return ActionResult(True, message, self.get(handoff_id), code=status)
        try:
            return self._guard(run)
        except IntegrityError:
            return ActionResult(True, "Already done (the form was sent twice).", self.get(handoff_id),
                                code="duplicate")

    def deliveries(self, handoff_id: int) -> List[OutboxItem]:
        """The outbox rows of a handoff, oldest first (the console's live delivery state)."""
        def run() -> List[OutboxItem]:
            with self.Session() as session:
                row = session.execute(select(Handoff).where(Handoff.id == handoff_id)
                                      .options(selectinload(Handoff.outbox))).scalar()
                return [item_of(o) for o in row.outbox] if row else []
        return self._guard(run)

    def resolve(self, handoff_id: int, staff: str, key: Optional[str] = None, note: str = "") -> ActionResult:
        return self._finish(handoff_id, staff, key, "resolved", "resolved", "Resolved.", note)

    def hand_back(self, handoff_id: int, staff: str, key: Optional[str] = None) -> ActionResult:
        """The bot answers this conversation again; its channel tells the customer (outbox)."""
        return self._finish(handoff_id, staff, key, "handed_back", "handed_back",
                            "Handed back: the bot answers this conversation again.", notify=True)
