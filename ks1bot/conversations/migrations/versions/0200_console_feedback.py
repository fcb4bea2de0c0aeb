"""Console, issue 15: staff roles and languages; the bot's decisions, staff corrections,
learning runs, internal notes and assignments.

Revision ID: 0200
Revises: 0100
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op

revision = "0200"
down_revision = "0100"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("staff_users") as batch:
        batch.add_column(sa.Column("role", sa.String(16), nullable=False, server_default="agent"))
        batch.add_column(sa.Column("language", sa.String(8), nullable=False, server_default="de"))
    op.create_table(
        "decisions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("conversation_id", sa.String(255), nullable=False),
        sa.Column("message_id", sa.String(255), nullable=False),
        sa.Column("sender", sa.String(320), nullable=False, server_default=""),
        sa.Column("customer_id", sa.String(64)),
        sa.Column("subject", sa.Text),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("language", sa.String(8), nullable=False, server_default="de"),
        sa.Column("topic", sa.String(64), nullable=False, index=True),
        sa.Column("confidence", sa.Float, nullable=False, server_default="0"),
        sa.Column("route", sa.String(16), nullable=False, index=True),
        sa.Column("reasons", sa.Text, nullable=False, server_default="[]"),
        sa.Column("handoff_id", sa.Integer),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.UniqueConstraint("channel", "message_id", name="uq_decisions_message"),
    )
    op.create_index("decisions_conversation", "decisions", ["channel", "conversation_id"])
    op.create_table(
        "learn_runs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("review_file", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="exported"),
        sa.Column("report", sa.Text),
    )
    op.create_table(
        "corrections",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("decision_id", sa.Integer, sa.ForeignKey("decisions.id", ondelete="SET NULL"), index=True),
        sa.Column("handoff_id", sa.Integer, sa.ForeignKey("handoffs.id", ondelete="SET NULL"), index=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("conversation_id", sa.String(255), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("language", sa.String(8), nullable=False, server_default="de"),
        sa.Column("old_topic", sa.String(64), nullable=False),
        sa.Column("old_route", sa.String(16), nullable=False),
        sa.Column("topic", sa.String(64), nullable=False, index=True),
        sa.Column("route", sa.String(16), nullable=False),
        sa.Column("kb_gap", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("staff", sa.String(80), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("review", sa.String(16), nullable=False, server_default="pending"),
        sa.Column("learn_run_id", sa.Integer, sa.ForeignKey("learn_runs.id", ondelete="SET NULL"), index=True),
    )
    op.create_table(
        "handoff_notes",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("handoff_id", sa.Integer, sa.ForeignKey("handoffs.id", ondelete="CASCADE"), nullable=False,
                  index=True),
        sa.Column("author", sa.String(80), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "handoff_assignments",
        sa.Column("handoff_id", sa.Integer, sa.ForeignKey("handoffs.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("staff", sa.String(80), nullable=False, index=True),
        sa.Column("assigned_by", sa.String(80), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    for table in ("handoff_assignments", "handoff_notes", "corrections", "learn_runs"):
        op.drop_table(table)
    op.drop_index("decisions_conversation", table_name="decisions")
    op.drop_table("decisions")
    with op.batch_alter_table("staff_users") as batch:
        batch.drop_column("language")
        batch.drop_column("role")
