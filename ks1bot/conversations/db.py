"""Database connection and migrations of the conversation record (SQLite file or
PostgreSQL URL)."""
from __future__ import annotations

import datetime as dt
import os
from functools import lru_cache
from pathlib import Path
from typing import Optional

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker

from ks1bot.core.settings import Settings

MIGRATIONS = Path(__file__).with_name("migrations")


class StoreUnavailable(Exception):
    """The database cannot be reached; nothing was written."""


def default_url(data_dir: Path) -> str:
    return f"sqlite:///{Path(data_dir).resolve() / 'ks1bot.db'}"


def database_url(settings: Settings) -> str:
    """KS1BOT_DATABASE_URL (keeps passwords out of files), else settings, else SQLite in data_dir."""
    return os.environ.get("KS1BOT_DATABASE_URL") or settings.database_url or default_url(settings.data_dir)


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, future=True, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(connection, _record) -> None:  # several processes share the file
            cursor = connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return create_engine(url, future=True, pool_pre_ping=True)


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision (alembic upgrade head)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", str(engine.url).replace("%", "%%"))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


@lru_cache(maxsize=8)
def engine_for(url: str, run_migrations: bool = True) -> Engine:
    engine = make_engine(url)
    if run_migrations:
        migrate(engine)
    return engine


def answers(engine: Engine) -> bool:
    """True when the database answers a query (readiness checks); raises when it does not."""
    from sqlalchemy import text

    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    return True


def session_factory(engine: Engine) -> sessionmaker:
    return sessionmaker(bind=engine, future=True, expire_on_commit=False)


def utc(value: Optional[dt.datetime]) -> Optional[dt.datetime]:
    """SQLite returns naive datetimes; everything is stored in UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value.astimezone(dt.timezone.utc)
