"""Every save of a knowledge-base article from the console, kept (the files in
data/knowledge are what the bot reads; these rows are their history).

Revision ID: 0202
Revises: 0201
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op

revision = "0202"
down_revision = "0201"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "kb_versions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("article_id", sa.String(80), nullable=False, index=True),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("author", sa.String(80), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("article_id", "language", "version", name="uq_kb_versions"),
    )


def downgrade() -> None:
    op.drop_table("kb_versions")
