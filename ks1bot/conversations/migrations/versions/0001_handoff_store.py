"""Handoff store: staff, sessions, login attempts (console), handoffs, messages, audit events.

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "staff_users",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(80), nullable=False, unique=True),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "staff_sessions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("staff_id", sa.Integer, sa.ForeignKey("staff_users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "login_attempts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("key", sa.String(255), nullable=False, index=True),
        sa.Column("succeeded", sa.Integer, nullable=False, server_default="0"),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, index=True),
    )
    op.create_table(
        "handoffs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("channel", sa.String(16), nullable=False, index=True),
        sa.Column("conversation_id", sa.String(255), nullable=False, index=True),
        sa.Column("customer_id", sa.String(64)),
        sa.Column("customer_name", sa.String(255)),
        sa.Column("contract", sa.String(16)),
        sa.Column("sender", sa.String(320), nullable=False, server_default=""),
        sa.Column("subject", sa.Text),
        sa.Column("language", sa.String(8), nullable=False, server_default="de"),
        sa.Column("topic", sa.String(64), nullable=False, index=True),
        sa.Column("confidence", sa.Float, nullable=False, server_default="0"),
        sa.Column("reasons", sa.Text, nullable=False, server_default="[]"),
        sa.Column("drafted_answer", sa.Text),
        sa.Column("drafted_source", sa.String(255)),
        sa.Column("acknowledgement", sa.Text),
        sa.Column("priority", sa.String(16), nullable=False, server_default="normal", index=True),
        sa.Column("status", sa.String(16), nullable=False, server_default="open", index=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("claimed_by", sa.String(80)),
        sa.Column("claimed_at", sa.DateTime(timezone=True)),
        sa.Column("resolved_at", sa.DateTime(timezone=True)),
        sa.Column("sla_due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("callback_number", sa.String(32)),
        sa.Column("source_message_id", sa.String(255), unique=True),
    )
    op.create_table(
        "conversation_messages",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("handoff_id", sa.Integer, sa.ForeignKey("handoffs.id", ondelete="CASCADE"), nullable=False, index=True),
        sa.Column("direction", sa.String(16), nullable=False),
        sa.Column("author", sa.String(255), nullable=False, server_default=""),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("handoff_id", sa.Integer, sa.ForeignKey("handoffs.id", ondelete="CASCADE"), index=True),
        sa.Column("actor", sa.String(80), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("detail", sa.Text, nullable=False, server_default=""),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("idempotency_key", sa.String(64)),
        sa.UniqueConstraint("idempotency_key", name="uq_audit_idempotency_key"),
    )


def downgrade() -> None:
    for table in ("audit_events", "conversation_messages", "handoffs", "login_attempts", "staff_sessions",
                  "staff_users"):
        op.drop_table(table)
