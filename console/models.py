"""The console's own tables: staff accounts, sessions, login attempts (SQLAlchemy 1.4).

They live in the conversations database and are created by its one migration history
(ks1bot/conversations/migrations, revision 0001); the models share its `Base`."""
from __future__ import annotations

from sqlalchemy import Column, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import relationship

from ks1bot.conversations.models import Base


class StaffUser(Base):
    __tablename__ = "staff_users"
    id = Column(Integer, primary_key=True)
    name = Column(String(80), nullable=False, unique=True)
    password_hash = Column(String(255), nullable=False)
    created_at = Column(DateTime(timezone=True), nullable=False)
    #: agent | lead (migration 0200): the lead edits the knowledge base, sees the
    #: dashboard and reviews what the bot learns.
    role = Column(String(16), nullable=False, default="agent", server_default="agent")
    #: The console's language for this person: de (default) or en.
    language = Column(String(8), nullable=False, default="de", server_default="de")


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
