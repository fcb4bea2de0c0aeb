"""Tables of the conversation record (SQLAlchemy 1.4): handoffs, their messages and audit
trail, and the outbox of staff replies and hand-backs that the channels deliver.

The database has one migration history, in `migrations/` next to this file. It also
creates the staff console's own tables (staff_users, staff_sessions, login_attempts),
whose ORM models live in `console/models.py` on the same `Base`: this layer does not
import the console.
"""
from __future__ import annotations

from sqlalchemy import (BigInteger, Boolean, Column, DateTime, Float, ForeignKey, Index, Integer, String, Text,
                        UniqueConstraint)
from sqlalchemy.orm import declarative_base, relationship

Base = declarative_base()

STATUSES = ("open", "claimed", "resolved", "handed_back")
CHANNELS = ("email", "chat", "call")
PRIORITIES = ("normal", "high")


class Handoff(Base):
    """A conversation with staff: open or claimed means the bot stays silent in it."""

    __tablename__ = "handoffs"
    id = Column(Integer, primary_key=True)
    channel = Column(String(16), nullable=False, index=True)
    conversation_id = Column(String(255), nullable=False, index=True)
    customer_id = Column(String(64))
    customer_name = Column(String(255))
    contract = Column(String(16))
    sender = Column(String(320), nullable=False, default="")
    subject = Column(Text)
    language = Column(String(8), nullable=False, default="de")
    topic = Column(String(64), nullable=False, index=True)
    confidence = Column(Float, nullable=False, default=0.0)
    reasons = Column(Text, nullable=False, default="[]")  # JSON list
    drafted_answer = Column(Text)
    drafted_source = Column(String(255))
    acknowledgement = Column(Text)  # what the customer was told
    priority = Column(String(16), nullable=False, default="normal", index=True)
    status = Column(String(16), nullable=False, default="open", index=True)
    created_at = Column(DateTime(timezone=True), nullable=False, index=True)
    claimed_by = Column(String(80))
    claimed_at = Column(DateTime(timezone=True))
    resolved_at = Column(DateTime(timezone=True))
    sla_due_at = Column(DateTime(timezone=True), nullable=False)
    callback_number = Column(String(32))
    #: Message id of the message that created the handoff (dedupe across retries).
    source_message_id = Column(String(255), unique=True)
    messages = relationship("ConversationMessage", order_by="ConversationMessage.id", back_populates="handoff")
    events = relationship("AuditEvent", order_by="AuditEvent.id", back_populates="handoff")
    outbox = relationship("OutboxMessage", order_by="OutboxMessage.id", back_populates="handoff")


class ConversationMessage(Base):
    __tablename__ = "conversation_messages"
    id = Column(Integer, primary_key=True)
    handoff_id = Column(Integer, ForeignKey("handoffs.id", ondelete="CASCADE"), nullable=False, index=True)
    direction = Column(String(16), nullable=False)  # customer | bot | staff
    author = Column(String(255), nullable=False, default="")
    text = Column(Text, nullable=False)
    created_at = Column(DateTime(timezone=True), nullable=False)
    handoff = relationship("Handoff", back_populates="messages")


class AuditEvent(Base):
    __tablename__ = "audit_events"
    __table_args__ = (UniqueConstraint("idempotency_key", name="uq_audit_idempotency_key"),)
    id = Column(Integer, primary_key=True)
    handoff_id = Column(Integer, ForeignKey("handoffs.id", ondelete="CASCADE"), index=True)
    actor = Column(String(80), nullable=False)
    action = Column(String(32), nullable=False)
    detail = Column(Text, nullable=False, default="")
    at = Column(DateTime(timezone=True), nullable=False)
    #: The form's one-time token: a double-submitted form writes (and does) nothing twice.
    idempotency_key = Column(String(64))
    handoff = relationship("Handoff", back_populates="events")


class OutboxMessage(Base):
    """What the staff console asks a channel to deliver: a staff reply or a hand-back
    notification. The channel's own process claims the row, delivers it and marks it
    `sent` or, after its retries, `failed` (migration 0002)."""

    __tablename__ = "outbox"
    __table_args__ = (Index("outbox_due", "channel", "status", "next_attempt_at"),)
    id = Column(Integer, primary_key=True)
    handoff_id = Column(Integer, ForeignKey("handoffs.id", ondelete="CASCADE"), nullable=False, index=True)
    channel = Column(String(16), nullable=False)
    conversation_id = Column(String(255), nullable=False)
    kind = Column(String(16), nullable=False)  # staff_reply | hand_back
    text = Column(Text, nullable=False, default="")
    staff_name = Column(String(80))
    language = Column(String(8), nullable=False, default="de")
    status = Column(String(16), nullable=False, default="queued")  # queued | sending | sent | failed
    attempts = Column(Integer, nullable=False, default=0)
    next_attempt_at = Column(DateTime(timezone=True), nullable=False)
    claimed_by = Column(String(255))
    lease_until = Column(DateTime(timezone=True))
    #: The channel's id of what it sent (the email's Message-ID), once handed to it.
    reference = Column(String(255))
    #: Why the last attempt failed (kept while retrying; the reason of `failed`).
    last_error = Column(Text)
    #: What the delivery was, for staff ("email to …", "callback to … done").
    note = Column(Text)
    created_at = Column(DateTime(timezone=True), nullable=False)
    updated_at = Column(DateTime(timezone=True), nullable=False)
    delivered_at = Column(DateTime(timezone=True))
    handoff = relationship("Handoff", back_populates="outbox")


class AttachmentRow(Base):
    """A file of a conversation: one a customer sent (or the original mail, when nobody
    could read it), or one staff attached to a reply (`outbox_id`). The bytes are a file
    under data_dir/attachments named by their SHA-256 (migration 0003)."""

    __tablename__ = "attachments"
    __table_args__ = (Index("attachments_conversation", "channel", "conversation_id"),)
    id = Column(Integer, primary_key=True)
    channel = Column(String(16), nullable=False)
    conversation_id = Column(String(255), nullable=False)
    #: Unique per file of a message ("<message id>#2", "<message id>#original"): storing
    #: the files of the same message again (a retry after a crash) adds nothing.
    key = Column(String(320), nullable=False, unique=True)
    source_message_id = Column(String(255))
    outbox_id = Column(Integer, ForeignKey("outbox.id", ondelete="CASCADE"), index=True)
    direction = Column(String(16), nullable=False)  # customer | staff
    filename = Column(Text, nullable=False)
    #: What the sender declared (shown, never trusted for display).
    content_type = Column(String(255), nullable=False)
    size = Column(BigInteger, nullable=False)
    sha256 = Column(String(64), nullable=False, index=True)
    #: image/png, image/jpeg, image/gif or image/webp when the bytes are one (sniffed).
    preview_type = Column(String(32))
    #: False when the file was over the size limit and only listed.
    stored = Column(Boolean, nullable=False)
    note = Column(Text)
    created_at = Column(DateTime(timezone=True), nullable=False, index=True)
