"""`ks1bot db migrate-from-sqlite --to postgresql://…`: copy an installation's SQLite files
into one PostgreSQL database, the upgrade from `make run` to the scale-out setup.

    data_dir/ks1bot.db            the conversation record and the console's accounts
    data_dir/mail/queue.sqlite3   the mail queue (its tables only)
    data_dir/rasa_tracker.db      Rasa's conversation trackers (the `events` table)

The target gets the schema first (Alembic, the same history), then the rows, table by
table in foreign-key order, in batches, each table in one transaction; the sequences of
the id columns are moved past the copied ids. A target that already holds rows is
refused (nothing is merged). Stop the bot first: a running bot would write on after the
copy. Raw mails and attachments stay files in the data directory (docs/deploy.md).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional

import sqlalchemy as sa

BATCH = 1000


class MigrationRefused(Exception):
    """The copy cannot start; the message says why and what to do."""


@dataclass
class Copied:
    rows: Dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.rows.values())


def sources(data_dir: Path) -> Dict[str, Path]:
    data_dir = Path(data_dir)
    return {"conversations": data_dir / "ks1bot.db", "mail queue": data_dir / "mail" / "queue.sqlite3",
            "rasa trackers": data_dir / "rasa_tracker.db"}


def _rasa_events() -> sa.Table:
    from rasa.core.tracker_store import SQLTrackerStore

    return SQLTrackerStore.SQLEvent.__table__


def _copy_table(source: sa.engine.Engine, target: sa.engine.Engine, name: str, target_table: sa.Table,
                progress: Callable[[str], None]) -> int:
    source_table = sa.Table(name, sa.MetaData(), autoload_with=source)
    columns = [c.name for c in target_table.columns if c.name in source_table.columns]
    copied = 0
    with source.connect() as reading, target.begin() as writing:
        result = reading.execute(sa.select(*[source_table.c[c] for c in columns]).order_by(
            *[source_table.c[c] for c in source_table.primary_key.columns.keys()] or [sa.text("rowid")]))
        while True:
            rows = result.fetchmany(BATCH)
            if not rows:
                break
            writing.execute(target_table.insert(), [dict(zip(columns, row)) for row in rows])
            copied += len(rows)
            progress(f"  {name}: {copied} rows")
        if copied and target.dialect.name == "postgresql" and "id" in target_table.c:
            # Rasa's events_seq is `optional`: on PostgreSQL the id is a serial column like ours
            sequence = writing.execute(sa.text("SELECT pg_get_serial_sequence(:t, 'id')"), {"t": name}).scalar()
            if sequence:
                writing.execute(sa.text(f"SELECT setval('{sequence}', (SELECT MAX(id) FROM {name}))"))
    return copied


def migrate_from_sqlite(data_dir: Path, target_url: str,
                        progress: Callable[[str], None] = lambda line: None) -> Copied:
    from ks1bot.conversations.db import migrate
    from ks1bot.conversations.mail_queue_tables import TABLES as QUEUE_TABLES

    files = sources(data_dir)
    if not any(path.is_file() for path in files.values()):
        raise MigrationRefused(f"There is no SQLite installation in {data_dir} (no ks1bot.db, mail/queue.sqlite3 or "
                               "rasa_tracker.db); pass the data directory with --data-dir.")
    if target_url.startswith("sqlite"):
        raise MigrationRefused("The target must be another database (postgresql://…), not SQLite.")
    target = sa.create_engine(target_url, future=True)
    try:
        progress(f"Schema of {target.url.render_as_string(hide_password=True)} (Alembic upgrade head) …")
        migrate(target)
        events = _rasa_events()
        events.create(target, checkfirst=True)
        metadata = sa.MetaData()
        metadata.reflect(target)
        tables: List[sa.Table] = [t for t in metadata.sorted_tables if t.name != "alembic_version"]
        with target.connect() as db:
            busy = [t.name for t in tables if db.execute(sa.select(sa.func.count()).select_from(t)).scalar()]
        if busy:
            raise MigrationRefused(f"The target database already holds rows ({', '.join(busy)}); migrate into an "
                                   "empty database (createdb), nothing is merged.")
        queue_names = {t.name for t in QUEUE_TABLES}
        copied = Copied()
        for what, path in files.items():
            if not path.is_file():
                progress(f"{what}: {path} not found, skipped")
                continue
            source = sa.create_engine(f"sqlite:///{path}", future=True)
            try:
                present = set(sa.inspect(source).get_table_names())
                if what == "conversations":
                    wanted = [t for t in tables if t.name not in queue_names and t.name != "events"]
                elif what == "mail queue":
                    wanted = [t for t in tables if t.name in queue_names]
                else:
                    wanted = [t for t in tables if t.name == "events"]
                progress(f"{what}: {path}")
                for table in wanted:
                    if table.name in present:
                        copied.rows[table.name] = _copy_table(source, target, table.name, table, progress)
            finally:
                source.dispose()
        return copied
    finally:
        target.dispose()


def register(sub) -> None:
    db = sub.add_parser("db", help="the bot's database")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    move = db_sub.add_parser(
        "migrate-from-sqlite", help="copy a SQLite installation (conversations, mail queue, Rasa trackers) into "
                                    "PostgreSQL",
        description="Copies data_dir/ks1bot.db, data_dir/mail/queue.sqlite3 and data_dir/rasa_tracker.db into an "
                    "empty PostgreSQL database. Stop the bot first; afterwards set KS1BOT_DATABASE_URL to the "
                    "target. Raw mails and attachments stay in the data directory.")
    move.add_argument("--to", required=True, metavar="URL", help="postgresql://user@host/db (password: in the URL "
                                                                 "or ~/.pgpass)")
    move.add_argument("--data-dir", metavar="DIR", help="the SQLite installation (default: data_dir in settings)")
    move.set_defaults(func=_cmd)


def _cmd(args) -> int:
    import sys

    from ks1bot.core.settings import load_settings

    settings = load_settings(Path(args.settings) if getattr(args, "settings", None) else None)
    data_dir = Path(args.data_dir) if args.data_dir else settings.data_dir
    try:
        copied = migrate_from_sqlite(data_dir, args.to, progress=lambda line: print(line, file=sys.stderr, flush=True))
    except MigrationRefused as exc:
        print(f"ks1bot: {exc}", file=sys.stderr)
        return 2
    except sa.exc.OperationalError as exc:
        print(f"ks1bot: the target database cannot be reached ({exc.orig}); check the URL and that it exists.",
              file=sys.stderr)
        return 2
    print(f"Copied {copied.total} rows ({', '.join(f'{k} {v}' for k, v in copied.rows.items() if v) or 'none'}). "
          f"Now set KS1BOT_DATABASE_URL to the target and start the bot; keep {data_dir} (raw mails, "
          "attachments).")
    return 0
