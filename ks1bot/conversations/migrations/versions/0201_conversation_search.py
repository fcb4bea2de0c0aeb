"""Full-text search over conversations (ks1bot/conversations/search.py): on PostgreSQL,
GIN indexes with the `german` configuration; on SQLite, an FTS5 table kept by triggers.

Revision ID: 0201
Revises: 0200
Create Date: 2026-12-02
"""
from alembic import op

revision = "0201"
down_revision = "0200"
branch_labels = None
depends_on = None

HANDOFF_DOC = ("to_tsvector('german', coalesce(customer_name, '') || ' ' || coalesce(customer_id, '') || ' ' "
               "|| coalesce(sender, '') || ' ' || coalesce(subject, ''))")

SQLITE = [
    "CREATE VIRTUAL TABLE conversation_search USING fts5(customer, subject, body, "
    "tokenize = 'unicode61 remove_diacritics 2')",
    """CREATE TRIGGER conversation_search_handoff_insert AFTER INSERT ON handoffs BEGIN
         INSERT INTO conversation_search(rowid, customer, subject, body) VALUES (new.id,
           coalesce(new.customer_name, '') || ' ' || coalesce(new.customer_id, '') || ' ' || coalesce(new.sender, ''),
           coalesce(new.subject, ''), '');
       END""",
    """CREATE TRIGGER conversation_search_handoff_update AFTER UPDATE OF customer_name, customer_id, sender, subject
       ON handoffs BEGIN
         UPDATE conversation_search SET
           customer = coalesce(new.customer_name, '') || ' ' || coalesce(new.customer_id, '') || ' ' || coalesce(new.sender, ''),
           subject = coalesce(new.subject, '') WHERE rowid = new.id;
       END""",
    """CREATE TRIGGER conversation_search_handoff_delete AFTER DELETE ON handoffs BEGIN
         DELETE FROM conversation_search WHERE rowid = old.id;
       END""",
    """CREATE TRIGGER conversation_search_message_insert AFTER INSERT ON conversation_messages BEGIN
         UPDATE conversation_search SET body = body || char(10) || new.text WHERE rowid = new.handoff_id;
       END""",
    # what is already there
    """INSERT INTO conversation_search(rowid, customer, subject, body)
       SELECT h.id, coalesce(h.customer_name, '') || ' ' || coalesce(h.customer_id, '') || ' ' || coalesce(h.sender, ''),
              coalesce(h.subject, ''),
              coalesce((SELECT group_concat(m.text, char(10)) FROM conversation_messages m WHERE m.handoff_id = h.id), '')
       FROM handoffs h""",
]


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"CREATE INDEX handoffs_search ON handoffs USING gin ({HANDOFF_DOC})")
        op.execute("CREATE INDEX conversation_messages_search ON conversation_messages "
                   "USING gin (to_tsvector('german', text))")
    elif op.get_bind().dialect.name == "sqlite":
        for statement in SQLITE:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS conversation_messages_search")
        op.execute("DROP INDEX IF EXISTS handoffs_search")
    elif op.get_bind().dialect.name == "sqlite":
        for name in ("handoff_insert", "handoff_update", "handoff_delete", "message_insert"):
            op.execute(f"DROP TRIGGER IF EXISTS conversation_search_{name}")
        op.execute("DROP TABLE IF EXISTS conversation_search")
