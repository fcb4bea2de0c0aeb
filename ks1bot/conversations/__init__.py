"""The one record of who holds a conversation: handoffs (open or claimed: with staff;
otherwise with the bot), their messages and audit trail, and the outbox of staff replies
and hand-backs that each channel's own process delivers. One database (SQLite file or
PostgreSQL), one Alembic migration history (`migrations/`)."""
