"""The durable mail queue: tables in a database (SQLAlchemy Core, ks1bot/conversations/mail_queue_tables.py,
created by the Alembic history), raw mails and composed replies as files in the data
directory (write, fsync, rename — Mailman's rule: persist, then ack).

The database is the conversation record's when a database URL is set (KS1BOT_DATABASE_URL,
`database_url`: PostgreSQL in production, several gateway workers share the queue);
without one it is SQLite in data_dir/mail/queue.sqlite3 (WAL, synchronous=FULL; `make run`).

Whether a thread is with staff is not kept here: the conversation record
(ks1bot.conversations, the handoff store) says so.

Workers coordinate through the database: a claim is a transaction that sets `claimed_by`
and a lease (`SELECT … FOR UPDATE SKIP LOCKED` on PostgreSQL, `BEGIN IMMEDIATE` on
SQLite); a live worker renews its leases (`renew`), so a lease runs out only when its
worker died or lost the database, and another worker takes the mail again. Storing an
outcome checks the claim is still the worker's: a mail is answered once. Rows of a dead
worker on this host are released at once (`recover`). Writes are retried while the
database is unreachable (a PostgreSQL restart).
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection, Engine

from ks1bot.conversations import mail_queue_tables as t
from mail_gateway.parsing import header_message_id

#: A claim lasts this long unless its worker renews it (the gateway does, every third of it).
LEASE_SECONDS = 60.0
#: How long a write waits for an unreachable database before it gives up.
RETRY_SECONDS = 120.0
#: A mail whose processing killed the worker this many times is handed to a person
#: (claimed with status "exhausted": the worker does not read it again).
MAX_CLAIMS = 3



@dataclass(frozen=True)
class InboundRow:
    id: int
    message_id: str
    source: str
    envelope_sender: Optional[str]
    raw_path: str
    size: int
    received_at: float
    status: str
    attempts: int
    conversation_id: Optional[str]
    imap_account: Optional[str]


@dataclass(frozen=True)
class OutboundRow:
    id: int
    message_id: str
    conversation_id: str
    kind: str
    recipient: str
    eml_path: str
    state: str
    attempts: int


@dataclass(frozen=True)
class NewOutbound:
    message_id: str
    conversation_id: str
    kind: str  # auto_reply | staff_reply
    recipient: str
    subject: str
    text: str
    language: str
    eml_path: str
    staff_name: Optional[str] = None


@dataclass(frozen=True)
class Enqueued:
    id: int
    message_id: str
    duplicate: bool


@dataclass(frozen=True)
class Outcome:
    """What processing decided about one inbound mail."""

    status: str  # processed | ignored | failed
    conversation_id: Optional[str] = None
    sender: Optional[str] = None
    subject: Optional[str] = None
    text: Optional[str] = None
    language: Optional[str] = None
    route: Optional[str] = None
    reason: Optional[str] = None
    decision: Optional[Dict[str, Any]] = None
    reply: Optional[NewOutbound] = None
    error: Optional[str] = None


def body_digest(raw: bytes) -> str:
    """SHA-256 of a mail's body (after the header block, line ends normalised): the same
    mail delivered twice has the same body, whatever its transport headers say."""
    end = re.search(rb"\r?\n\r?\n", raw)
    body = raw[end.end():] if end else b""
    return hashlib.sha256(body.replace(b"\r\n", b"\n").rstrip()).hexdigest()


def reused_id_key(message_id: str, body: str) -> str:
    """The queue key of a second, different mail under an already used Message-ID."""
    return f"<reused-{body[:16]}.{message_id.strip('<>')}>"


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _dead_here(claimed_by: str) -> bool:
    """`claimed_by` (host:pid) names a process on this host that no longer runs."""
    host, _, pid = claimed_by.rpartition(":")
    return host == socket.gethostname() and pid.isdigit() and not _pid_alive(int(pid))


def write_atomic(path: Path, data: bytes) -> None:
    """Write, fsync, rename, fsync the directory: the file is whole or absent."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class ClaimLost(Exception):
    """This worker's lease ran out (it lost the database too long): another worker has the row."""


_ENGINES: Dict[str, Engine] = {}
_ENGINES_LOCK = threading.Lock()
#: Errors that mean "the database is not reachable right now": the write is tried again.
_TRANSIENT = (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.DisconnectionError)


def queue_url(directory: Path) -> str:
    """The queue's own SQLite file when no database URL is set."""
    return f"sqlite:///{Path(directory).resolve() / 'queue.sqlite3'}"


def queue_engine(url: str) -> Engine:
    """One migrated engine per URL and process. SQLite: every transaction `BEGIN IMMEDIATE`
    (a claim never has to upgrade a read lock), synchronous=FULL; reads run in autocommit."""
    with _ENGINES_LOCK:
        engine = _ENGINES.get(url)
        if engine is not None:
            return engine
        from ks1bot.conversations.db import make_engine, migrate

        engine = make_engine(url)
        if engine.dialect.name == "sqlite":
            @sa.event.listens_for(engine, "connect")
            def _autocommit_driver(dbapi_connection, _record) -> None:
                dbapi_connection.isolation_level = None
                dbapi_connection.execute("PRAGMA synchronous=FULL")

            @sa.event.listens_for(engine, "begin")
            def _immediate(connection) -> None:
                if connection.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
                    connection.exec_driver_sql("BEGIN IMMEDIATE")
        migrate(engine)
        _ENGINES[url] = engine
        return engine


class Record(dict):
    """A row like sqlite3.Row: by column name, by position, iterated as its values;
    `dict(row)` gives the columns."""

    def __getitem__(self, key):
        if isinstance(key, int):
            return list(self.values())[key]
        return dict.__getitem__(self, key)

    def __iter__(self):
        return iter(list(self.values()))


def _qmark(sql: str, params: Sequence[Any]) -> Tuple[str, Dict[str, Any]]:
    """`?` placeholders (sqlite3 style, the tools' and tests' queries) as named ones."""
    parts = sql.split("?")
    if len(parts) - 1 != len(params):
        raise ValueError(f"{len(parts) - 1} placeholders, {len(params)} parameters")
    named = parts[0] + "".join(f":p{i}{part}" for i, part in enumerate(parts[1:]))
    return named, {f"p{i}": v for i, v in enumerate(params)}


class MailStore:
    """The queue. Thread-safe (a connection pool); several processes share it."""

    def __init__(self, directory: Path, clock=time.time, url: Optional[str] = None,
                 lease_seconds: float = LEASE_SECONDS, retry_seconds: float = RETRY_SECONDS) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.url = url or queue_url(self.directory)
        self.engine = queue_engine(self.url)
        self.postgres = self.engine.dialect.name == "postgresql"
        #: What `mail status` shows: the SQLite file, or the database URL without its password.
        self.path = (self.directory / "queue.sqlite3") if url is None else self.engine.url.render_as_string(
            hide_password=True)
        self.raw_dir = self.directory / "raw"
        self.replies_dir = self.directory / "replies"
        self.clock = clock
        self.lease_seconds = lease_seconds
        self.retry_seconds = retry_seconds
        self._reader = self.engine.execution_options(isolation_level="AUTOCOMMIT") \
            if self.engine.dialect.name == "sqlite" else self.engine

    # -- plumbing ------------------------------------------------------------------
    def _write(self, work):
        """Run `work(connection)` in one transaction; while the database cannot be reached
        (a restart, a failover), wait and run it again — at most `retry_seconds`."""
        deadline = time.monotonic() + self.retry_seconds
        pause = 0.1
        while True:
            try:
                with self.engine.begin() as db:
                    return work(db)
            except _TRANSIENT:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(pause)
                pause = min(pause * 2, 2.0)

    def _rows(self, sql: str, db: Optional[Connection] = None, **params) -> List[Record]:
        if db is not None:
            return [Record(r._mapping) for r in db.execute(sa.text(sql), params)]
        with self._reader.connect() as conn:
            return [Record(r._mapping) for r in conn.execute(sa.text(sql), params)]

    def _one(self, sql: str, db: Optional[Connection] = None, **params) -> Optional[Record]:
        rows = self._rows(sql, db, **params)
        return rows[0] if rows else None

    def _scalar(self, sql: str, **params) -> Any:
        row = self._one(sql, **params)
        return row[0] if row else None

    def close(self) -> None:
        """Connections are pooled per process (`queue_engine`); nothing to close per store."""

    def query(self, sql: str, params: Sequence[Any] = ()) -> List[Record]:
        """Any SQL with `?` placeholders (tools, tests), in a transaction of its own."""
        named, values = _qmark(sql, params)

        def work(db: Connection) -> List[Record]:
            result = db.execute(sa.text(named), values)
            return [Record(r._mapping) for r in result] if result.returns_rows else []

        return self._write(work)

    # -- intake --------------------------------------------------------------------
    def raw_path_for(self, sha256: str) -> Path:
        return self.raw_dir / sha256[:2] / f"{sha256}.eml"

    def enqueue(
        self,
        raw: bytes,
        source: str,
        envelope_sender: Optional[str] = None,
        imap: Optional[Tuple[str, int, int]] = None,
    ) -> Enqueued:
        """Persist one mail durably (file, then row). A Message-ID already in the queue
        with the same body is a duplicate: nothing new is stored (an IMAP position is
        updated, so the copy on the server is moved once the outcome is there). A
        different mail under a Message-ID already used (clients that reuse ids) is
        queued under a key of its own (`reused_id_key`): it is never dropped."""
        header_id, sha = header_message_id(raw)
        body = body_digest(raw)
        path = self.raw_path_for(sha)
        if not path.exists():
            write_atomic(path, raw)
        now = self.clock()

        def work(db: Connection) -> Enqueued:
            message_id = header_id
            find = "SELECT id, body_sha256 FROM inbound WHERE message_id = :m"
            row = self._one(find, db, m=message_id)
            if row is not None and row["body_sha256"] not in (None, body):
                message_id = reused_id_key(header_id, body)
                row = self._one(find, db, m=message_id)
            if row is not None:
                if imap is not None:
                    held = self._one("SELECT imap_account, imap_uidvalidity, imap_uid, imap_moved FROM inbound "
                                     "WHERE id=:id", db, id=row["id"])
                    if held["imap_account"] is not None and held["imap_moved"] == 0 and \
                            (held["imap_account"], held["imap_uidvalidity"], held["imap_uid"]) != tuple(imap):
                        # the first copy is still in the mailbox: both leave it once the outcome is stored
                        db.execute(t.imap_copies.insert().values(
                            inbound_id=row["id"], imap_account=imap[0], imap_uidvalidity=imap[1], imap_uid=imap[2]))
                    else:
                        db.execute(sa.text(
                            "UPDATE inbound SET imap_account=:a, imap_uidvalidity=:v, imap_uid=:u, imap_moved=0, "
                            "updated_at=:now WHERE id=:id"), dict(a=imap[0], v=imap[1], u=imap[2], now=now, id=row["id"]))
                db.execute(sa.text(
                    "INSERT INTO state(key, value) VALUES('duplicates', '1') ON CONFLICT(key) DO UPDATE SET "
                    "value = CAST(CAST(state.value AS INTEGER) + 1 AS TEXT)"))
                return Enqueued(row["id"], message_id, True)
            account, uidvalidity, uid = imap or (None, None, None)
            result = db.execute(t.inbound.insert().values(
                message_id=message_id, sha256=sha, source=source, envelope_sender=envelope_sender,
                raw_path=str(path.relative_to(self.directory)), size=len(raw), received_at=now, status="queued",
                updated_at=now, imap_account=account, imap_uidvalidity=uidvalidity, imap_uid=uid, body_sha256=body))
            return Enqueued(int(result.inserted_primary_key[0]), message_id, False)

        for attempt in range(3):
            try:
                return self._write(work)
            except sa_exc.IntegrityError:  # another worker stored the same mail just now
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def read_raw(self, row: InboundRow) -> bytes:
        return (self.directory / row.raw_path).read_bytes()

    # -- processing ----------------------------------------------------------------
    def recover(self, me: Optional[str] = None) -> Dict[str, int]:
        """Release what dead workers held: rows claimed by a process on this host that is
        gone, and rows whose lease ran out (a worker elsewhere died or lost the database).
        Claimed mail goes back to the queue; a reply caught between 'sending' and the
        relay's answer becomes 'unconfirmed' (it may have gone out: it is never sent again)."""
        counts = {"requeued": 0, "unconfirmed": 0}
        now = self.clock()

        def work(db: Connection) -> Dict[str, int]:
            for table in ("inbound", "outbound"):
                for row in self._rows(f"SELECT id, claimed_by, lease_until FROM {table} WHERE claimed_by IS NOT NULL",
                                      db):
                    dead = (row["claimed_by"] != me and _dead_here(str(row["claimed_by"]))) \
                        or (row["lease_until"] or 0) < now
                    if not dead:
                        continue
                    if table == "inbound":
                        counts["requeued"] += db.execute(sa.text(
                            "UPDATE inbound SET status='queued', claimed_by=NULL, lease_until=NULL, updated_at=:now "
                            "WHERE id=:id AND status='processing'"), dict(now=now, id=row["id"])).rowcount
                    else:
                        counts["unconfirmed"] += db.execute(sa.text(
                            "UPDATE outbound SET state='unconfirmed', claimed_by=NULL, lease_until=NULL, "
                            "last_error=:e, updated_at=:now WHERE id=:id AND state='sending'"),
                            dict(e="the worker stopped while the relay was taking this reply; it may have gone out, "
                                   "so it is not sent again — check with the customer", now=now, id=row["id"])).rowcount
                        db.execute(sa.text("UPDATE outbound SET claimed_by=NULL, lease_until=NULL WHERE id=:id "
                                           "AND state='pending'"), dict(id=row["id"]))
            db.execute(sa.text("UPDATE inbound SET claimed_by=NULL, lease_until=NULL WHERE status != 'processing' "
                               "AND claimed_by IS NOT NULL"))
            return counts

        return self._write(work)

    def renew(self, me: str) -> int:
        """Extend the leases of everything `me` holds (the gateway calls this every third of
        a lease): a live worker keeps its mail however long it takes."""
        until = self.clock() + self.lease_seconds

        def work(db: Connection) -> int:
            n = db.execute(sa.text("UPDATE inbound SET lease_until=:u WHERE claimed_by=:me AND status='processing'"),
                           dict(u=until, me=me)).rowcount
            return n + db.execute(sa.text("UPDATE outbound SET lease_until=:u WHERE claimed_by=:me"),
                                  dict(u=until, me=me)).rowcount

        return self._write(work)

    def claim_inbound(self, me: str) -> Optional[InboundRow]:
        now = self.clock()
        # PostgreSQL: workers skip each other's locked rows instead of queueing behind them
        lock = " FOR UPDATE SKIP LOCKED" if self.postgres else ""

        def work(db: Connection) -> Optional[InboundRow]:
            row = self._one(
                "SELECT * FROM inbound WHERE status='queued' OR (status='processing' AND lease_until < :now) "
                "ORDER BY id LIMIT 1" + lock, db, now=now)
            if row is None:
                return None
            exhausted = row["attempts"] >= MAX_CLAIMS
            if exhausted:  # the worker hands it to a person without reading it again
                db.execute(sa.text("UPDATE inbound SET last_error=:e WHERE id=:id"),
                           dict(e=f"processing this mail stopped the worker {row['attempts']} times; it needs a person",
                                id=row["id"]))
            db.execute(sa.text("UPDATE inbound SET status='processing', attempts=attempts+1, claimed_by=:me, "
                               "lease_until=:until, updated_at=:now WHERE id=:id"),
                       dict(me=me, until=now + self.lease_seconds, now=now, id=row["id"]))
            return self._inbound(dict(row, status="exhausted" if exhausted else "processing",
                                      attempts=row["attempts"] + 1))

        return self._write(work)

    @staticmethod
    def _inbound(row: Dict[str, Any]) -> InboundRow:
        return InboundRow(row["id"], row["message_id"], row["source"], row["envelope_sender"], row["raw_path"],
                          row["size"], row["received_at"], row["status"], row["attempts"], row["conversation_id"],
                          row["imap_account"])

    def finish(self, inbound_id: int, outcome: Outcome, me: Optional[str] = None) -> bool:
        """Store the outcome and queue the reply — one transaction. With `me`, only while
        the claim is still `me`'s: a worker whose lease ran out (another took the mail)
        stores nothing; False then."""
        now = self.clock()

        def work(db: Connection) -> bool:
            claim = " AND claimed_by=:me AND status='processing'" if me is not None else ""
            stored = db.execute(sa.text(
                "UPDATE inbound SET status=:status, conversation_id=:cid, sender=:sender, subject=:subject, "
                "text=:text, language=:language, route=:route, reason=:reason, decision_json=:decision, "
                "reply_message_id=:reply, last_error=:error, processed_at=:now, updated_at=:now, "
                "claimed_by=NULL, lease_until=NULL WHERE id=:id" + claim),
                dict(status=outcome.status, cid=outcome.conversation_id, sender=outcome.sender,
                     subject=outcome.subject, text=outcome.text, language=outcome.language, route=outcome.route,
                     reason=outcome.reason,
                     decision=json.dumps(outcome.decision, ensure_ascii=False) if outcome.decision is not None
                     else None, reply=outcome.reply.message_id if outcome.reply else None, error=outcome.error,
                     now=now, id=inbound_id, me=me)).rowcount
            if not stored:
                return False
            if outcome.reply is not None:
                self._insert_outbound(db, outcome.reply, inbound_id, now)
            return True

        return self._write(work)

    @staticmethod
    def _insert_outbound(db: Connection, reply: NewOutbound, inbound_id: Optional[int], now: float) -> bool:
        return db.execute(sa.text(
            "INSERT INTO outbound(message_id, inbound_id, conversation_id, kind, recipient, subject, text, "
            "language, staff_name, eml_path, state, attempts, next_attempt_at, created_at, updated_at) "
            "VALUES (:m, :inbound, :cid, :kind, :to, :subject, :text, :language, :staff, :eml, 'pending', 0, :now, "
            ":now, :now) ON CONFLICT (message_id) DO NOTHING"),
            dict(m=reply.message_id, inbound=inbound_id, cid=reply.conversation_id, kind=reply.kind,
                 to=reply.recipient.lower(), subject=reply.subject, text=reply.text, language=reply.language,
                 staff=reply.staff_name, eml=reply.eml_path, now=now)).rowcount > 0

    def add_outbound(self, reply: NewOutbound) -> bool:
        """Queue a reply not tied to an inbound mail (a staff reply)."""
        return self._write(lambda db: self._insert_outbound(db, reply, None, self.clock()))

    # -- what the rules count --------------------------------------------------------
    def conversation_of(self, message_id: str) -> Optional[str]:
        row = self._one("SELECT conversation_id FROM inbound WHERE message_id=:m AND conversation_id IS NOT NULL",
                        m=message_id)
        if row is None:
            row = self._one("SELECT conversation_id FROM outbound WHERE message_id=:m", m=message_id)
        return row["conversation_id"] if row else None

    def latest_inbound(self, conversation_id: str) -> Optional[Dict[str, Any]]:
        """The customer's latest mail of a conversation (a staff reply answers it)."""
        return self._one("SELECT * FROM inbound WHERE conversation_id=:c AND raw_path != '' "
                         "ORDER BY received_at DESC, id DESC LIMIT 1", c=conversation_id)

    def inbound_of_reply(self, outbound_id: int) -> Optional[Dict[str, Any]]:
        """The customer's mail a queued reply answers (None for a staff reply)."""
        return self._one("SELECT i.* FROM outbound o JOIN inbound i ON i.id = o.inbound_id WHERE o.id=:id",
                         id=outbound_id)

    def outbound(self, message_id: str) -> Optional[Dict[str, Any]]:
        """A queued reply by its Message-ID (state, attempts, last error)."""
        return self._one("SELECT * FROM outbound WHERE message_id=:m", m=message_id)

    def auto_replies_to(self, recipient: str, since: float) -> int:
        return self._scalar("SELECT COUNT(*) FROM outbound WHERE recipient=:r AND kind='auto_reply' AND "
                            "created_at >= :since", r=recipient.lower(), since=since)

    def auto_replies_in(self, conversation_id: str, since: float) -> int:
        return self._scalar("SELECT COUNT(*) FROM outbound WHERE conversation_id=:c AND kind='auto_reply' AND "
                            "created_at >= :since", c=conversation_id, since=since)

    # -- sending ---------------------------------------------------------------------
    def claim_outbound(self, me: str, message_id: Optional[str] = None) -> Optional[OutboundRow]:
        """The next reply that is due (or the one with `message_id`, due or not)."""
        now = self.clock()
        lock = " FOR UPDATE SKIP LOCKED" if self.postgres else ""

        def work(db: Connection) -> Optional[OutboundRow]:
            if message_id is not None:
                row = self._one("SELECT * FROM outbound WHERE state='pending' AND message_id=:m AND "
                                "(claimed_by IS NULL OR lease_until < :now)" + lock, db, m=message_id, now=now)
            else:
                row = self._one("SELECT * FROM outbound WHERE state='pending' AND next_attempt_at <= :now AND "
                                "(claimed_by IS NULL OR lease_until < :now) ORDER BY next_attempt_at, id LIMIT 1"
                                + lock, db, now=now)
            if row is None:
                return None
            db.execute(sa.text("UPDATE outbound SET claimed_by=:me, lease_until=:until, attempts=attempts+1, "
                               "updated_at=:now WHERE id=:id"),
                       dict(me=me, until=now + self.lease_seconds, now=now, id=row["id"]))
            return OutboundRow(row["id"], row["message_id"], row["conversation_id"], row["kind"], row["recipient"],
                               row["eml_path"], row["state"], row["attempts"] + 1)

        return self._write(work)

    def next_outbound_due(self) -> Optional[float]:
        return self._scalar("SELECT MIN(next_attempt_at) FROM outbound WHERE state='pending'")

    def _update(self, sql: str, **params) -> int:
        return self._write(lambda db: db.execute(sa.text(sql), params).rowcount)

    def mark_sending(self, outbound_id: int, me: Optional[str] = None) -> None:
        """The reply's data is with the relay, its end not yet sent. With `me`, only while
        the claim is still `me`'s; else ClaimLost (the sender then drops the connection
        before the final dot: the relay discards the mail, the other worker sends it)."""
        claim = " AND claimed_by=:me AND state='pending'" if me is not None else ""
        if not self._update("UPDATE outbound SET state='sending', updated_at=:now WHERE id=:id" + claim,
                            now=self.clock(), id=outbound_id, me=me) and me is not None:
            raise ClaimLost(f"reply {outbound_id} was taken over by another worker")

    def mark_sent(self, outbound_id: int) -> None:
        now = self.clock()
        self._update("UPDATE outbound SET state='sent', sent_at=:now, claimed_by=NULL, lease_until=NULL, "
                     "last_error=NULL, updated_at=:now WHERE id=:id", now=now, id=outbound_id)

    def retry_later(self, outbound_id: int, error: str, at: float) -> None:
        self._update("UPDATE outbound SET state='pending', next_attempt_at=:at, last_error=:e, claimed_by=NULL, "
                     "lease_until=NULL, updated_at=:now WHERE id=:id", at=at, e=error, now=self.clock(),
                     id=outbound_id)

    def mark_outbound(self, outbound_id: int, state: str, error: str) -> None:
        self._update("UPDATE outbound SET state=:s, last_error=:e, claimed_by=NULL, lease_until=NULL, "
                     "updated_at=:now WHERE id=:id", s=state, e=error, now=self.clock(), id=outbound_id)

    # -- IMAP ------------------------------------------------------------------------
    def state_get(self, key: str) -> Optional[str]:
        row = self._one("SELECT value FROM state WHERE key=:k", k=key)
        return row["value"] if row else None

    def state_set(self, key: str, value: str) -> None:
        self._update("INSERT INTO state(key, value) VALUES (:k, :v) ON CONFLICT(key) DO UPDATE SET "
                     "value=excluded.value", k=key, v=value)

    def take_lease(self, name: str, me: str, seconds: Optional[float] = None) -> bool:
        """Hold (or keep holding) the named lease — the IMAP poller of one mailbox: True
        while `me` holds it. Taken over once the holder stopped renewing it."""
        now = self.clock()
        until = now + (seconds if seconds is not None else self.lease_seconds)

        def work(db: Connection) -> bool:
            db.execute(sa.text("INSERT INTO leases(name, holder, lease_until) VALUES (:n, NULL, 0) "
                               "ON CONFLICT (name) DO NOTHING"), dict(n=name))
            holder = (self._one("SELECT holder FROM leases WHERE name=:n", db, n=name) or {}).get("holder")
            # a holder on this host whose process is gone (a restart) needs no waiting for
            dead = holder if holder and holder != me and _dead_here(holder) else ""
            return db.execute(sa.text("UPDATE leases SET holder=:me, lease_until=:until WHERE name=:n AND "
                                      "(holder=:me OR holder IS NULL OR lease_until < :now OR holder=:dead)"),
                              dict(me=me, until=until, n=name, now=now, dead=dead)).rowcount > 0

        return self._write(work)

    def release_lease(self, name: str, me: str) -> None:
        self._update("UPDATE leases SET holder=NULL, lease_until=0 WHERE name=:n AND holder=:me", n=name, me=me)

    def lease_holder(self, name: str) -> Optional[str]:
        row = self._one("SELECT holder, lease_until FROM leases WHERE name=:n", n=name)
        return row["holder"] if row and row["holder"] and row["lease_until"] >= self.clock() else None

    def forget_uids(self, account: str, uidvalidity: int) -> int:
        """UIDVALIDITY changed: UIDs of the old epoch mean nothing any more."""
        def work(db: Connection) -> int:
            params = dict(a=account, v=uidvalidity, now=self.clock())
            db.execute(sa.text("UPDATE imap_copies SET imap_moved=-1 WHERE imap_account=:a AND imap_moved=0 "
                               "AND imap_uidvalidity != :v"), params)
            return db.execute(sa.text("UPDATE inbound SET imap_moved=-1, updated_at=:now WHERE imap_account=:a AND "
                                      "imap_moved=0 AND imap_uidvalidity != :v"), params).rowcount

        return self._write(work)

    def pending_moves(self, account: str, uidvalidity: int) -> List[Tuple[int, int, str]]:
        """(key, uid, status) of mails whose outcome is stored but which are still in the
        mailbox: the key is the row id, or minus the id of a further copy (`imap_copies`)."""
        rows = self._rows(
            "SELECT id, imap_uid, status FROM inbound WHERE imap_account=:a AND imap_uidvalidity=:v AND imap_moved=0 "
            "AND status IN ('processed', 'ignored', 'failed') ORDER BY id", a=account, v=uidvalidity)
        copies = self._rows(
            "SELECT c.id, c.imap_uid, i.status FROM imap_copies c JOIN inbound i ON i.id = c.inbound_id "
            "WHERE c.imap_account=:a AND c.imap_uidvalidity=:v AND c.imap_moved=0 "
            "AND i.status IN ('processed', 'ignored', 'failed') ORDER BY c.id", a=account, v=uidvalidity)
        return [(r["id"], r["imap_uid"], r["status"]) for r in rows] + \
            [(-r["id"], r["imap_uid"], r["status"]) for r in copies]

    def mark_moved(self, ids: Iterable[int]) -> None:
        ids = list(ids)
        if not ids:
            return
        now = self.clock()

        def work(db: Connection) -> None:
            rows = [dict(now=now, id=i) for i in ids if i > 0]
            copies = [dict(id=-i) for i in ids if i < 0]
            if rows:
                db.execute(sa.text("UPDATE inbound SET imap_moved=1, updated_at=:now WHERE id=:id"), rows)
            if copies:
                db.execute(sa.text("UPDATE imap_copies SET imap_moved=1 WHERE id=:id"), copies)

        self._write(work)

    # -- retention -------------------------------------------------------------------
    def purge(self, before: float, outbox_dir: Optional[Path] = None, dry_run: bool = False) -> Dict[str, int]:
        """Delete the raw mails and composed replies of mails finished before `before`
        (epoch seconds), and the outbox folder's .eml files older than that. The rows
        stay (the outcome, for `ks1bot mail status`), without the customer's text."""
        counts = {"raw_mails": 0, "replies": 0, "outbox_files": 0}
        old = self._rows("SELECT id, raw_path FROM inbound WHERE received_at < :b AND raw_path != '' AND status IN "
                         "('processed', 'ignored', 'failed')", b=before)
        kept = {r["raw_path"] for r in self._rows(
            "SELECT raw_path FROM inbound WHERE raw_path != '' AND (received_at >= :b OR status IN ('queued', "
            "'processing'))", b=before)}
        replies = self._rows("SELECT id, eml_path FROM outbound WHERE created_at < :b AND eml_path != '' AND state IN "
                             "('sent', 'failed', 'unconfirmed')", b=before)
        counts["raw_mails"], counts["replies"] = len(old), len(replies)
        if not dry_run:
            for row in old:
                if row["raw_path"] not in kept:
                    (self.directory / row["raw_path"]).unlink(missing_ok=True)
            for row in replies:
                (self.directory / row["eml_path"]).unlink(missing_ok=True)
            now = self.clock()

            def work(db: Connection) -> None:
                if old:
                    db.execute(sa.text("UPDATE inbound SET raw_path='', text=NULL, updated_at=:now WHERE id=:id"),
                               [dict(now=now, id=r["id"]) for r in old])
                if replies:
                    db.execute(sa.text("UPDATE outbound SET eml_path='', text=NULL, updated_at=:now WHERE id=:id"),
                               [dict(now=now, id=r["id"]) for r in replies])

            self._write(work)
        if outbox_dir is not None and Path(outbox_dir).is_dir():
            for path in Path(outbox_dir).glob("*.eml"):
                if path.stat().st_mtime < before:
                    counts["outbox_files"] += 1
                    if not dry_run:
                        path.unlink(missing_ok=True)
        return counts

    # -- status ----------------------------------------------------------------------
    def depth(self) -> Tuple[int, Optional[float]]:
        """Mails queued or being processed, and when the oldest of them arrived (metrics)."""
        row = self._one("SELECT COUNT(*) AS n, MIN(received_at) AS oldest FROM inbound "
                        "WHERE status IN ('queued', 'processing')")
        return int(row["n"]), row["oldest"]

    def summary(self) -> Dict[str, Any]:
        inbound = {r["status"]: r["n"] for r in self._rows("SELECT status, COUNT(*) AS n FROM inbound GROUP BY status")}
        outbound = {r["state"]: r["n"] for r in self._rows("SELECT state, COUNT(*) AS n FROM outbound GROUP BY state")}
        last = self._one(
            "SELECT at, what, message_id, error FROM ("
            " SELECT updated_at AS at, 'inbound' AS what, message_id, last_error AS error FROM inbound WHERE last_error IS NOT NULL"
            " UNION ALL SELECT updated_at, 'reply', message_id, last_error FROM outbound WHERE last_error IS NOT NULL"
            ") AS errors ORDER BY at DESC LIMIT 1")
        failures = self._rows(
            "SELECT id, message_id, sender, subject, reason, last_error, updated_at FROM inbound WHERE status='failed' "
            "ORDER BY id DESC LIMIT 20")
        to_staff = self._rows(
            "SELECT id, message_id, sender, subject, reason, last_error, updated_at FROM inbound "
            "WHERE route='handoff' AND reason IN ('unparseable_mail', 'processing_error', 'processing_crashed') "
            "ORDER BY id DESC LIMIT 20")
        to_staff_count = self._scalar(
            "SELECT COUNT(*) FROM inbound WHERE route='handoff' AND reason IN "
            "('unparseable_mail', 'processing_error', 'processing_crashed')")
        handed = self._scalar("SELECT COUNT(*) FROM inbound WHERE route='handoff'")
        reply_failures = self._rows(
            "SELECT id, message_id, recipient, state, attempts, last_error, updated_at FROM outbound "
            "WHERE state IN ('failed', 'unconfirmed') ORDER BY id DESC LIMIT 20")
        retrying = self._scalar("SELECT COUNT(*) FROM outbound WHERE state='pending' AND last_error IS NOT NULL")
        reasons = {r["reason"]: r["n"] for r in self._rows(
            "SELECT reason, COUNT(*) AS n FROM inbound WHERE status='ignored' GROUP BY reason")}
        return {
            "inbound": {s: inbound.get(s, 0) for s in ("queued", "processing", "processed", "ignored", "failed")},
            "queue_depth": inbound.get("queued", 0) + inbound.get("processing", 0),
            "replies": {s: outbound.get(s, 0) for s in ("pending", "sending", "sent", "unconfirmed", "failed")},
            "replies_retrying": retrying,
            "ignored_reasons": reasons,
            "duplicates": int(self.state_get("duplicates") or 0),
            "last_error": dict(last) if last else None,
            "failures": [dict(r) for r in failures],
            "handed_to_staff": handed,
            "to_staff_after_failure": [dict(r) for r in to_staff],
            "to_staff_after_failure_count": to_staff_count,
            "reply_failures": [dict(r) for r in reply_failures],
        }
