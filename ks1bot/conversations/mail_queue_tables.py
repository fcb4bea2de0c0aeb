"""The mail queue's tables (mail_gateway/store.py) as SQLAlchemy Core, one definition for
SQLite and PostgreSQL. They live here, beside the conversation record's models, because
the record's Alembic history creates them (revision 0100) and one database URL holds
both; the mail gateway owns what is in them.

    inbound        one row per received mail (deduplicated by Message-ID): status
                   queued → processing → processed | ignored | failed, the decision,
                   the conversation, IMAP position and whether it was moved
    outbound       one row per reply (unique Message-ID): pending → sending → sent,
                   or unconfirmed / failed; attempts and the next try
    state          small key/value facts (IMAP UIDVALIDITY, counters)
    imap_copies    further copies of a mail in the mailbox (moved with it)
    leases         named leases (the elected IMAP poller of a mailbox): holder and expiry
"""
from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

inbound = sa.Table(
    "inbound", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("message_id", sa.Text, nullable=False, unique=True),
    sa.Column("sha256", sa.Text, nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("envelope_sender", sa.Text),
    sa.Column("raw_path", sa.Text, nullable=False),
    sa.Column("size", sa.Integer, nullable=False),
    sa.Column("received_at", sa.Float, nullable=False),
    sa.Column("status", sa.Text, nullable=False, server_default="queued"),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("claimed_by", sa.Text),
    sa.Column("lease_until", sa.Float),
    sa.Column("sender", sa.Text),
    sa.Column("subject", sa.Text),
    sa.Column("text", sa.Text),
    sa.Column("language", sa.Text),
    sa.Column("conversation_id", sa.Text),
    sa.Column("route", sa.Text),
    sa.Column("reason", sa.Text),
    sa.Column("decision_json", sa.Text),
    sa.Column("reply_message_id", sa.Text),
    sa.Column("processed_at", sa.Float),
    sa.Column("last_error", sa.Text),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.Column("imap_account", sa.Text),
    sa.Column("imap_uidvalidity", sa.BigInteger),
    sa.Column("imap_uid", sa.BigInteger),
    sa.Column("imap_moved", sa.Integer, nullable=False, server_default="0"),
    sa.Column("body_sha256", sa.Text),
    sa.Index("inbound_status", "status", "id"),
    sa.Index("inbound_conversation", "conversation_id"),
    sa.Index("inbound_imap", "imap_account", "imap_moved"),
)

outbound = sa.Table(
    "outbound", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("message_id", sa.Text, nullable=False, unique=True),
    sa.Column("inbound_id", sa.Integer),
    sa.Column("conversation_id", sa.Text, nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("recipient", sa.Text, nullable=False),
    sa.Column("subject", sa.Text),
    sa.Column("text", sa.Text),
    sa.Column("language", sa.Text),
    sa.Column("staff_name", sa.Text),
    sa.Column("eml_path", sa.Text, nullable=False),
    sa.Column("state", sa.Text, nullable=False, server_default="pending"),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", sa.Float, nullable=False),
    sa.Column("claimed_by", sa.Text),
    sa.Column("lease_until", sa.Float),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("sent_at", sa.Float),
    sa.Column("last_error", sa.Text),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.Index("outbound_due", "state", "next_attempt_at"),
    sa.Index("outbound_recipient", "recipient", "kind", "created_at"),
    sa.Index("outbound_conversation", "conversation_id", "kind", "created_at"),
)

state = sa.Table(
    "state", metadata,
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

imap_copies = sa.Table(
    "imap_copies", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("inbound_id", sa.Integer, nullable=False),
    sa.Column("imap_account", sa.Text, nullable=False),
    sa.Column("imap_uidvalidity", sa.BigInteger, nullable=False),
    sa.Column("imap_uid", sa.BigInteger, nullable=False),
    sa.Column("imap_moved", sa.Integer, nullable=False, server_default="0"),
)

leases = sa.Table(
    "leases", metadata,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("holder", sa.Text),
    sa.Column("lease_until", sa.Float, nullable=False, server_default="0"),
)

TABLES = (inbound, outbound, state, imap_copies, leases)
