"""Alembic environment: the URL comes from ks1bot.conversations.db (settings), not from
an ini file.

This is the database's one migration history. It creates the conversation tables
(ks1bot/conversations/models.py) and the staff console's tables (staff users, sessions,
login attempts; their ORM models are in console/models.py, which this layer does not
import). Migrations are written by hand; should anyone autogenerate one, tables that are
not in this metadata (the console's) are left alone instead of being dropped.
"""
from __future__ import annotations

from alembic import context

from ks1bot.conversations.models import Base

config = context.config
target_metadata = Base.metadata


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    """Compare only what this metadata knows (see the module docstring)."""
    return not (type_ == "table" and reflected and compare_to is None)


def run_migrations() -> None:
    connectable = config.attributes.get("connection")
    if connectable is None:
        from sqlalchemy import create_engine

        connectable = create_engine(config.get_main_option("sqlalchemy.url"))
        with connectable.connect() as connection:
            _run(connection)
    else:
        _run(connectable)


def _run(connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, include_object=include_object,
                      render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
