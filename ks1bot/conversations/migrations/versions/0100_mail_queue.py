"""The mail queue (ks1bot/conversations/mail_queue_tables.py): inbound, outbound, state, imap_copies
and the leases of elected pollers — in the conversation record's database, so several
gateway workers share one queue (PostgreSQL) and one URL selects everything.

A queue file written before this revision (mail/queue.sqlite3 without Alembic) already
has the first four tables: they are kept (with the body_sha256 column added when it is
missing), only what is absent is created.

Revision ID: 0100
Revises: 0003
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op

revision = "0100"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from ks1bot.conversations.mail_queue_tables import TABLES

    bind = op.get_bind()
    existing = set(sa.inspect(bind).get_table_names())
    for table in TABLES:
        if table.name not in existing:
            table.create(bind)
    if "inbound" in existing:
        columns = {c["name"] for c in sa.inspect(bind).get_columns("inbound")}
        if "body_sha256" not in columns:
            op.add_column("inbound", sa.Column("body_sha256", sa.Text))


def downgrade() -> None:
    from ks1bot.conversations.mail_queue_tables import TABLES

    for table in reversed(TABLES):
        table.drop(op.get_bind(), checkfirst=True)
