"""Attachments: files customers sent (and the original of a mail nobody could read) and
files staff attach to replies; the bytes live under data_dir/attachments.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "attachments",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("conversation_id", sa.String(255), nullable=False),
        sa.Column("key", sa.String(320), nullable=False, unique=True),
        sa.Column("source_message_id", sa.String(255)),
        sa.Column("outbox_id", sa.Integer, sa.ForeignKey("outbox.id", ondelete="CASCADE"), index=True),
        sa.Column("direction", sa.String(16), nullable=False),
        sa.Column("filename", sa.Text, nullable=False),
        sa.Column("content_type", sa.String(255), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False, index=True),
        sa.Column("preview_type", sa.String(32)),
        sa.Column("stored", sa.Boolean, nullable=False),
        sa.Column("note", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, index=True),
    )
    op.create_index("attachments_conversation", "attachments", ["channel", "conversation_id"])


def downgrade() -> None:
    op.drop_index("attachments_conversation", table_name="attachments")
    op.drop_table("attachments")
