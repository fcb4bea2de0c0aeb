"""Tables of the handoff store (SQLAlchemy 1.4; migrations in console/migrations)."""
from __future__ import annotations

from sqlalchemy import (
    Column,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import declarative_base, relationship

Base = declarative_base()

STATUSES = ("open", "claimed", "resolved", "handed_back")
CHANNELS = ("email", "chat", "call")
PRIORITIES = ("normal", "high")


class StaffUser(Base):
    __tablename__ = "staff_users"
    id = Column(Integer, primary_key=True)
    name = Column(String(80), nullable=False, unique=True)
    password_hash = Column(String(255), nullable=False)
    created_at = Column(DateTime(timezone=True), nullable=False)


class StaffSession(Base):
    __tablename__ = "staff_sessions"
    id = Column(String(64), primary_key=True)  # random token, the cookie value
    staff_id = Column(Integer, ForeignKey("staff_users.id", ondelete="CASCADE"), nullable=False)
    csrf_token = Column(String(64), nullable=False)
    created_at = Column(DateTime(timezone=True), nullable=False)
    expires_at = Column(DateTime(timezone=True), nullable=False)
    staff = relationship("StaffUser")


class LoginAttempt(Base):
    __tablename__ = "login_attempts"
    id = Column(Integer, primary_key=True)
    key = Column(String(255), nullable=False, index=True)  # "name|client address"
    succeeded = Column(Integer, nullable=False, default=0)
    at = Column(DateTime(timezone=True), nullable=False, index=True)


class Handoff(Base):
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
