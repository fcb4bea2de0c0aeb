"""The outbox: what staff asked a channel to deliver (a reply, a hand-back notification).

The staff console only enqueues: `HandoffStore.reply` and `HandoffStore.hand_back` write
the row in the same transaction as the conversation message, the audit event and the
status change. Each channel's own process delivers its rows:

    item = outbox.claim("chat", worker)       # queued → sending, leased to this worker
    ... deliver ...
    outbox.delivered(item.id, note)           # → sent (audit event "delivered")
    outbox.retry_later(item.id, error, …)     # → queued again after a backoff, or failed

The email channel hands a claimed row to its own exactly-once mail queue
(`handed_over(id, message_id)`: still `sending`, no longer leased) and reports the
mail's fate later (`delivered` / `failed`). A row whose worker died before handing it
on is claimed again once its lease has run out.

States: queued → sending → sent | failed. Staff see them live on the handoff's page.
"""
from __future__ import annotations

import datetime as dt
import logging
import socket
import os
from dataclasses import dataclass
from typing import Callable, List, Optional

from sqlalchemy import or_, select, update

from ks1bot.conversations.db import session_factory, utc
from ks1bot.conversations.models import AuditEvent, Handoff, OutboxMessage
from ks1bot.core import logs
from ks1bot.core.messages import now_utc

log = logging.getLogger("ks1bot.conversations.outbox")

KINDS = ("staff_reply", "hand_back")
#: Channels whose own process delivers outbox rows: the mail gateway (email) and the
#: chat channel inside the Rasa server (widget and REST). A phone call needs no
#: delivery: a staff "reply" is the note that the callback was made, so its row is
#: written as sent at once (and so is a hand-back: the bot simply answers the next turn).
DELIVERING_CHANNELS = frozenset({"email", "chat"})
LEASE = dt.timedelta(minutes=2)
MAX_BACKOFF = dt.timedelta(minutes=10)


@dataclass(frozen=True)
class OutboxItem:
    id: int
    handoff_id: int
    channel: str
    conversation_id: str
    kind: str
    text: str
    staff_name: Optional[str]
    language: str
    status: str
    attempts: int
    reference: Optional[str]
    last_error: Optional[str]
    note: Optional[str]
    created_at: dt.datetime
    delivered_at: Optional[dt.datetime]

    @property
    def label(self) -> str:
        """What staff see: queued, sending, sent or "failed: reason" (retries named)."""
        if self.status == "failed":
            return f"failed: {self.last_error or 'unknown reason'}"
        if self.status in ("queued", "sending") and self.last_error:
            return f"{self.status} (retrying: {self.last_error})"
        return self.status

    @property
    def what(self) -> str:
        return "hand-back" if self.kind == "hand_back" else f"reply by {self.staff_name or 'staff'}"


def item_of(row: OutboxMessage) -> OutboxItem:
    return OutboxItem(row.id, row.handoff_id, row.channel, row.conversation_id, row.kind, row.text or "",
                      row.staff_name, row.language or "de", row.status, row.attempts, row.reference, row.last_error,
                      row.note, utc(row.created_at), utc(row.delivered_at))


def delivery_note(handoff: Handoff, kind: str) -> str:
    """A short note for staff and the audit trail: what the delivery is."""
    if handoff.channel == "call":
        if kind == "hand_back":
            return "the bot answers the caller's next turn"
        return f"callback to {handoff.callback_number or handoff.sender} done"
    if handoff.channel == "email":
        return f"email to {handoff.sender}" if kind == "staff_reply" else "the bot answers the next mail of the thread"
    if kind == "hand_back":
        return "notice in the customer's chat"
    return "chat message to the customer's widget"


def new_row(handoff: Handoff, kind: str, text: str, staff: Optional[str], now: dt.datetime) -> OutboxMessage:
    """The outbox row of a reply or hand-back (added by the store in its transaction)."""
    delivered = handoff.channel not in DELIVERING_CHANNELS
    return OutboxMessage(
        handoff_id=handoff.id, channel=handoff.channel, conversation_id=handoff.conversation_id, kind=kind,
        text=text, staff_name=staff, language=handoff.language or "de", status="sent" if delivered else "queued",
        next_attempt_at=now, created_at=now, updated_at=now, delivered_at=now if delivered else None,
        note=delivery_note(handoff, kind))


def backoff(attempt: int, base: dt.timedelta) -> dt.timedelta:
    """base, 2·base, 4·base, … at most 10 minutes."""
    return min(base * (2 ** max(attempt - 1, 0)), MAX_BACKOFF)


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Outbox:
    """The delivering side of the outbox (the channels' processes)."""

    def __init__(self, engine, clock: Callable[[], dt.datetime] = now_utc, lease: dt.timedelta = LEASE) -> None:
        self.Session = session_factory(engine)
        self.clock = clock
        self.lease = lease

    def claim(self, channel: str, worker: str) -> Optional[OutboxItem]:
        """The next due row of `channel`, leased to `worker` (None when there is none).
        A conditional UPDATE decides between workers racing for the same row."""
        now = self.clock()
        claimable = or_(
            (OutboxMessage.status == "queued") & (OutboxMessage.next_attempt_at <= now),
            (OutboxMessage.status == "sending") & OutboxMessage.reference.is_(None)
            & (OutboxMessage.lease_until < now),
        )
        with self.Session.begin() as session:
            candidates = session.execute(
                select(OutboxMessage.id).where(OutboxMessage.channel == channel, claimable)
                .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id).limit(5)).scalars().all()
            for item_id in candidates:
                won = session.execute(
                    update(OutboxMessage).where(OutboxMessage.id == item_id, claimable)
                    .values(status="sending", claimed_by=worker, lease_until=now + self.lease,
                            attempts=OutboxMessage.attempts + 1, updated_at=now)
                    .execution_options(synchronize_session=False)).rowcount
                if won == 1:
                    return item_of(session.get(OutboxMessage, item_id))
        return None

    def handed_over(self, item_id: int, reference: str) -> None:
        """The channel took the row into its own queue (the email's Message-ID)."""
        with self.Session.begin() as session:
            row = session.get(OutboxMessage, item_id)
            row.reference, row.claimed_by, row.lease_until, row.updated_at = reference, None, None, self.clock()

    def in_flight(self, channel: str) -> List[OutboxItem]:
        """Rows handed to the channel's own queue whose fate is not known yet."""
        with self.Session() as session:
            rows = session.execute(select(OutboxMessage).where(
                OutboxMessage.channel == channel, OutboxMessage.status == "sending",
                OutboxMessage.reference.is_not(None)).order_by(OutboxMessage.id)).scalars()
            return [item_of(row) for row in rows]

    def note_retry(self, item_id: int, error: Optional[str]) -> None:
        """The channel is retrying (the relay is down, say): staff see why it waits."""
        with self.Session.begin() as session:
            row = session.get(OutboxMessage, item_id)
            if row is not None and row.last_error != error:
                row.last_error, row.updated_at = error, self.clock()

    def delivered(self, item_id: int, note: Optional[str] = None) -> None:
        now = self.clock()
        with self.Session.begin() as session:
            row = session.get(OutboxMessage, item_id)
            if row is None or row.status == "sent":
                return
            row.status, row.delivered_at, row.updated_at = "sent", now, now
            row.claimed_by = row.lease_until = row.last_error = None
            if note:
                row.note = note
            session.add(AuditEvent(handoff_id=row.handoff_id, actor=row.channel, action="delivered",
                                   detail=f"{row.kind}: {row.note or ''}"[:500], at=now))
        logs.event(log, "outbox_delivered", outbox_id=item_id, note=note)

    def failed(self, item_id: int, error: str) -> None:
        now = self.clock()
        with self.Session.begin() as session:
            row = session.get(OutboxMessage, item_id)
            if row is None or row.status in ("sent", "failed"):
                return
            row.status, row.last_error, row.updated_at = "failed", error[:2000], now
            row.claimed_by = row.lease_until = None
            session.add(AuditEvent(handoff_id=row.handoff_id, actor=row.channel, action="delivery_failed",
                                   detail=f"{row.kind}: {error}"[:500], at=now))
        logs.event(log, "outbox_failed", logging.ERROR, outbox_id=item_id, error=error)

    def retry_later(self, item_id: int, error: str, max_attempts: int, base: dt.timedelta) -> str:
        """Back to `queued` after a backoff, or `failed` once `max_attempts` are spent;
        returns the new status."""
        with self.Session.begin() as session:
            row = session.get(OutboxMessage, item_id)
            if row is None:
                return "failed"
            attempts = row.attempts
            if attempts < max_attempts:
                now = self.clock()
                row.status, row.last_error, row.updated_at = "queued", error[:2000], now
                row.next_attempt_at = now + backoff(attempts, base)
                row.claimed_by = row.lease_until = None
                logs.event(log, "outbox_retry", logging.WARNING, outbox_id=item_id, attempt=attempts, error=error)
                return "queued"
        self.failed(item_id, f"{error} (after {attempts} attempts)")
        return "failed"

    def for_handoff(self, handoff_id: int) -> List[OutboxItem]:
        with self.Session() as session:
            rows = session.execute(select(OutboxMessage).where(OutboxMessage.handoff_id == handoff_id)
                                   .order_by(OutboxMessage.id)).scalars()
            return [item_of(row) for row in rows]

    def get(self, item_id: int) -> Optional[OutboxItem]:
        with self.Session() as session:
            row = session.get(OutboxMessage, item_id)
            return item_of(row) if row else None
