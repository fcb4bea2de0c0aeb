"""Tables of the bot's decisions and what staff made of them (migration 0200): every
routed message's decision as the NLU saw it, staff corrections of a classification,
internal notes on a handoff, assignments to a colleague and learning runs.

Separate from `models.py` so the handoff tables stay as they are; same `Base`."""
from __future__ import annotations

from sqlalchemy import Boolean, Column, DateTime, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint

from ks1bot.conversations.models import Base


class DecisionRow(Base):
    """One routed message: what the classifier read, the topic and the route it chose."""

    __tablename__ = "decisions"
    __table_args__ = (UniqueConstraint("channel", "message_id", name="uq_decisions_message"),
                      Index("decisions_conversation", "channel", "conversation_id"))
    id = Column(Integer, primary_key=True)
    channel = Column(String(16), nullable=False)
    conversation_id = Column(String(255), nullable=False)
    message_id = Column(String(255), nullable=False)
    sender = Column(String(320), nullable=False, default="")
    customer_id = Column(String(64))
    subject = Column(Text)
    #: The text as the NLU saw it (prepared: quoted history, signatures removed).
    text = Column(Text, nullable=False)
    language = Column(String(8), nullable=False, default="de")
    topic = Column(String(64), nullable=False, index=True)
    confidence = Column(Float, nullable=False, default=0.0)
    route = Column(String(16), nullable=False, index=True)
    reasons = Column(Text, nullable=False, default="[]")
    handoff_id = Column(Integer)
    received_at = Column(DateTime(timezone=True), nullable=False, index=True)


class CorrectionRow(Base):
    """A staff member's correction of a classification; reviewed by `ks1bot learn`."""

    __tablename__ = "corrections"
    id = Column(Integer, primary_key=True)
    decision_id = Column(Integer, ForeignKey("decisions.id", ondelete="SET NULL"), index=True)
    handoff_id = Column(Integer, ForeignKey("handoffs.id", ondelete="SET NULL"), index=True)
    channel = Column(String(16), nullable=False)
    conversation_id = Column(String(255), nullable=False)
    text = Column(Text, nullable=False)
    language = Column(String(8), nullable=False, default="de")
    old_topic = Column(String(64), nullable=False)
    old_route = Column(String(16), nullable=False)
    topic = Column(String(64), nullable=False, index=True)
    route = Column(String(16), nullable=False)
    #: "The knowledge base should have answered this": an article draft for the vendor.
    kb_gap = Column(Boolean, nullable=False, default=False)
    staff = Column(String(80), nullable=False)
    at = Column(DateTime(timezone=True), nullable=False, index=True)
    #: pending | accepted | dropped (the lead's review, in the console or the file)
    review = Column(String(16), nullable=False, default="pending")
    #: The learning run that exported it (None: not exported yet).
    learn_run_id = Column(Integer, ForeignKey("learn_runs.id", ondelete="SET NULL"), index=True)


class LearnRun(Base):
    __tablename__ = "learn_runs"
    id = Column(Integer, primary_key=True)
    started_at = Column(DateTime(timezone=True), nullable=False)
    review_file = Column(Text, nullable=False)
    #: exported | kept | refused
    status = Column(String(16), nullable=False, default="exported")
    report = Column(Text)


class HandoffNote(Base):
    """An internal note on a handoff: for colleagues only, never sent to the customer."""

    __tablename__ = "handoff_notes"
    id = Column(Integer, primary_key=True)
    handoff_id = Column(Integer, ForeignKey("handoffs.id", ondelete="CASCADE"), nullable=False, index=True)
    author = Column(String(80), nullable=False)
    text = Column(Text, nullable=False)
    at = Column(DateTime(timezone=True), nullable=False)


class Assignment(Base):
    """Who a handoff is assigned to (one row per handoff; the newest assignment wins)."""

    __tablename__ = "handoff_assignments"
    handoff_id = Column(Integer, ForeignKey("handoffs.id", ondelete="CASCADE"), primary_key=True)
    staff = Column(String(80), nullable=False, index=True)
    assigned_by = Column(String(80), nullable=False)
    at = Column(DateTime(timezone=True), nullable=False)


class KbVersion(Base):
    """One saved version of a knowledge-base article file (migration 0202)."""

    __tablename__ = "kb_versions"
    __table_args__ = (UniqueConstraint("article_id", "language", "version", name="uq_kb_versions"),)
    id = Column(Integer, primary_key=True)
    article_id = Column(String(80), nullable=False, index=True)
    language = Column(String(8), nullable=False)
    version = Column(Integer, nullable=False)
    text = Column(Text, nullable=False)
    author = Column(String(80), nullable=False)
    at = Column(DateTime(timezone=True), nullable=False)
