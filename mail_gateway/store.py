"""The durable mail queue: SQLite (WAL, synchronous=FULL) in the data directory, raw
mails as files next to it (write, fsync, rename — Mailman's rule: persist, then ack).

Tables:
    inbound        one row per received mail (deduplicated by Message-ID): status
                   queued → processing → processed | ignored | failed, the decision,
                   the conversation, IMAP position and whether it was moved
    outbound       one row per reply (unique Message-ID): pending → sending → sent,
                   or unconfirmed / failed; attempts and the next try — the bot's
                   automatic replies and the staff replies taken from the outbox
    state          small key/value facts (IMAP UIDVALIDITY, counters)
    imap_copies    further copies of a mail in the mailbox (the same mail twice): moved
                   with it

Whether a thread is with staff is not kept here: the conversation record
(ks1bot.conversations, the handoff store) says so.

Workers coordinate through the database: a claim is a transaction that sets
`claimed_by` and a lease; rows of a dead worker on this host are released at start.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from mail_gateway.parsing import header_message_id

LEASE_SECONDS = 600.0
#: A mail whose processing killed the worker this many times is handed to a person
#: (claimed with status "exhausted": the worker does not read it again).
MAX_CLAIMS = 3

SCHEMA = """
CREATE TABLE IF NOT EXISTS inbound (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id TEXT NOT NULL UNIQUE,
    sha256 TEXT NOT NULL,
    source TEXT NOT NULL,
    envelope_sender TEXT,
    raw_path TEXT NOT NULL,
    size INTEGER NOT NULL,
    received_at REAL NOT NULL,
    status TEXT NOT NULL DEFAULT 'queued',
    attempts INTEGER NOT NULL DEFAULT 0,
    claimed_by TEXT,
    lease_until REAL,
    sender TEXT,
    subject TEXT,
    text TEXT,
    language TEXT,
    conversation_id TEXT,
    route TEXT,
    reason TEXT,
    decision_json TEXT,
    reply_message_id TEXT,
    processed_at REAL,
    last_error TEXT,
    updated_at REAL NOT NULL,
    imap_account TEXT,
    imap_uidvalidity INTEGER,
    imap_uid INTEGER,
    imap_moved INTEGER NOT NULL DEFAULT 0,
    body_sha256 TEXT
);
CREATE INDEX IF NOT EXISTS inbound_status ON inbound(status, id);
CREATE INDEX IF NOT EXISTS inbound_conversation ON inbound(conversation_id);
CREATE INDEX IF NOT EXISTS inbound_imap ON inbound(imap_account, imap_moved);
CREATE TABLE IF NOT EXISTS outbound (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id TEXT NOT NULL UNIQUE,
    inbound_id INTEGER,
    conversation_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    recipient TEXT NOT NULL,
    subject TEXT,
    text TEXT,
    language TEXT,
    staff_name TEXT,
    eml_path TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,
    claimed_by TEXT,
    lease_until REAL,
    created_at REAL NOT NULL,
    sent_at REAL,
    last_error TEXT,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS outbound_due ON outbound(state, next_attempt_at);
CREATE INDEX IF NOT EXISTS outbound_recipient ON outbound(recipient, kind, created_at);
CREATE INDEX IF NOT EXISTS outbound_conversation ON outbound(conversation_id, kind, created_at);
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS imap_copies (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    inbound_id INTEGER NOT NULL,
    imap_account TEXT NOT NULL,
    imap_uidvalidity INTEGER NOT NULL,
    imap_uid INTEGER NOT NULL,
    imap_moved INTEGER NOT NULL DEFAULT 0
);
"""


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


class MailStore:
    """The queue. Thread-safe: one SQLite connection per thread."""

    def __init__(self, directory: Path, clock=time.time) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.path = self.directory / "queue.sqlite3"
        self.raw_dir = self.directory / "raw"
        self.replies_dir = self.directory / "replies"
        self.clock = clock
        self._local = threading.local()
        self._db().executescript(SCHEMA)
        columns = {r[1] for r in self._db().execute("PRAGMA table_info(inbound)")}
        if "body_sha256" not in columns:  # a queue written before the column existed
            self._db().execute("ALTER TABLE inbound ADD COLUMN body_sha256 TEXT")

    # -- plumbing ------------------------------------------------------------------
    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(str(self.path), timeout=60, isolation_level=None, check_same_thread=False)
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.execute("PRAGMA busy_timeout=60000")
            self._local.db = db
        return db

    class _Tx:
        def __init__(self, db: sqlite3.Connection) -> None:
            self.db = db

        def __enter__(self) -> sqlite3.Connection:
            self.db.execute("BEGIN IMMEDIATE")
            return self.db

        def __exit__(self, kind, value, tb) -> None:
            self.db.execute("COMMIT" if kind is None else "ROLLBACK")

    def _tx(self) -> "MailStore._Tx":
        return MailStore._Tx(self._db())

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None

    def query(self, sql: str, params: Sequence[Any] = ()) -> List[sqlite3.Row]:
        return list(self._db().execute(sql, params))

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
        message_id = header_id
        path = self.raw_path_for(sha)
        if not path.exists():
            write_atomic(path, raw)
        now = self.clock()
        with self._tx() as db:
            row = db.execute("SELECT id, body_sha256 FROM inbound WHERE message_id = ?", (message_id,)).fetchone()
            if row is not None and row["body_sha256"] not in (None, body):
                message_id = reused_id_key(header_id, body)
                row = db.execute("SELECT id, body_sha256 FROM inbound WHERE message_id = ?", (message_id,)).fetchone()
            if row is not None:
                if imap is not None:
                    held = db.execute("SELECT imap_account, imap_uidvalidity, imap_uid, imap_moved FROM inbound "
                                      "WHERE id=?", (row["id"],)).fetchone()
                    if held["imap_account"] is not None and held["imap_moved"] == 0 and \
                            (held["imap_account"], held["imap_uidvalidity"], held["imap_uid"]) != tuple(imap):
                        # the first copy is still in the mailbox: both leave it once the outcome is stored
                        db.execute("INSERT INTO imap_copies(inbound_id, imap_account, imap_uidvalidity, imap_uid) "
                                   "VALUES (?,?,?,?)", (row["id"], *imap))
                    else:
                        db.execute(
                            "UPDATE inbound SET imap_account=?, imap_uidvalidity=?, imap_uid=?, imap_moved=0, "
                            "updated_at=? WHERE id=?", (*imap, now, row["id"]))
                db.execute(
                    "INSERT INTO state(key, value) VALUES('duplicates', '1') "
                    "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1")
                return Enqueued(row["id"], message_id, True)
            cursor = db.execute(
                "INSERT INTO inbound(message_id, sha256, source, envelope_sender, raw_path, size, received_at, "
                "status, updated_at, imap_account, imap_uidvalidity, imap_uid, body_sha256) "
                "VALUES (?,?,?,?,?,?,?, 'queued', ?, ?, ?, ?, ?)",
                (message_id, sha, source, envelope_sender, str(path.relative_to(self.directory)), len(raw), now, now,
                 *(imap or (None, None, None)), body),
            )
            return Enqueued(int(cursor.lastrowid), message_id, False)

    def read_raw(self, row: InboundRow) -> bytes:
        return (self.directory / row.raw_path).read_bytes()

    # -- processing ----------------------------------------------------------------
    def recover(self, me: Optional[str] = None) -> Dict[str, int]:
        """Release what dead workers on this host held: claimed mail goes back to the
        queue; a reply caught between 'sending' and the relay's answer becomes
        'unconfirmed' (it may have gone out: it is never sent again)."""
        host = socket.gethostname()
        counts = {"requeued": 0, "unconfirmed": 0}
        now = self.clock()
        with self._tx() as db:
            for table in ("inbound", "outbound"):
                for row in db.execute(f"SELECT id, claimed_by, lease_until FROM {table} WHERE claimed_by IS NOT NULL"):
                    owner_host, _, pid = str(row["claimed_by"]).rpartition(":")
                    dead = (owner_host == host and pid.isdigit() and row["claimed_by"] != me
                            and not _pid_alive(int(pid))) or (row["lease_until"] or 0) < now
                    if not dead:
                        continue
                    if table == "inbound":
                        n = db.execute("UPDATE inbound SET status='queued', claimed_by=NULL, lease_until=NULL, updated_at=? "
                                       "WHERE id=? AND status='processing'", (now, row["id"])).rowcount
                        counts["requeued"] += n
                    else:
                        n = db.execute("UPDATE outbound SET state='unconfirmed', claimed_by=NULL, lease_until=NULL, "
                                       "last_error=?, updated_at=? WHERE id=? AND state='sending'",
                                       ("the worker stopped while the relay was taking this reply; it may have "
                                        "gone out, so it is not sent again — check with the customer", now, row["id"])).rowcount
                        counts["unconfirmed"] += n
                        db.execute("UPDATE outbound SET claimed_by=NULL, lease_until=NULL WHERE id=? AND state='pending'",
                                   (row["id"],))
            db.execute("UPDATE inbound SET claimed_by=NULL, lease_until=NULL WHERE status != 'processing' "
                       "AND claimed_by IS NOT NULL")
        return counts

    def claim_inbound(self, me: str) -> Optional[InboundRow]:
        now = self.clock()
        with self._tx() as db:
            row = db.execute(
                "SELECT * FROM inbound WHERE status='queued' OR (status='processing' AND lease_until < ?) "
                "ORDER BY id LIMIT 1", (now,)).fetchone()
            if row is None:
                return None
            exhausted = row["attempts"] >= MAX_CLAIMS
            if exhausted:  # the worker hands it to a person without reading it again
                db.execute("UPDATE inbound SET last_error=? WHERE id=?",
                           (f"processing this mail stopped the worker {row['attempts']} times; it needs a person",
                            row["id"]))
            db.execute("UPDATE inbound SET status='processing', attempts=attempts+1, claimed_by=?, lease_until=?, "
                       "updated_at=? WHERE id=?", (me, now + LEASE_SECONDS, now, row["id"]))
            return self._inbound(dict(row, status="exhausted" if exhausted else "processing",
                                      attempts=row["attempts"] + 1))

    @staticmethod
    def _inbound(row: Dict[str, Any]) -> InboundRow:
        return InboundRow(row["id"], row["message_id"], row["source"], row["envelope_sender"], row["raw_path"],
                          row["size"], row["received_at"], row["status"], row["attempts"], row["conversation_id"],
                          row["imap_account"])

    def finish(self, inbound_id: int, outcome: Outcome) -> None:
        """Store the outcome and queue the reply — one transaction."""
        now = self.clock()
        with self._tx() as db:
            db.execute(
                "UPDATE inbound SET status=?, conversation_id=?, sender=?, subject=?, text=?, language=?, route=?, "
                "reason=?, decision_json=?, reply_message_id=?, last_error=?, processed_at=?, updated_at=?, "
                "claimed_by=NULL, lease_until=NULL WHERE id=?",
                (outcome.status, outcome.conversation_id, outcome.sender, outcome.subject, outcome.text,
                 outcome.language, outcome.route, outcome.reason,
                 json.dumps(outcome.decision, ensure_ascii=False) if outcome.decision is not None else None,
                 outcome.reply.message_id if outcome.reply else None, outcome.error, now, now, inbound_id))
            if outcome.reply is not None:
                self._insert_outbound(db, outcome.reply, inbound_id, now)

    @staticmethod
    def _insert_outbound(db: sqlite3.Connection, reply: NewOutbound, inbound_id: Optional[int], now: float) -> bool:
        cursor = db.execute(
            "INSERT OR IGNORE INTO outbound(message_id, inbound_id, conversation_id, kind, recipient, subject, text, "
            "language, staff_name, eml_path, state, next_attempt_at, created_at, updated_at) "
            "VALUES (?,?,?,?,?,?,?,?,?,?, 'pending', ?, ?, ?)",
            (reply.message_id, inbound_id, reply.conversation_id, reply.kind, reply.recipient.lower(), reply.subject,
             reply.text, reply.language, reply.staff_name, reply.eml_path, now, now, now))
        return cursor.rowcount > 0

    def add_outbound(self, reply: NewOutbound) -> bool:
        """Queue a reply not tied to an inbound mail (a staff reply)."""
        with self._tx() as db:
            return self._insert_outbound(db, reply, None, self.clock())

    # -- what the rules count --------------------------------------------------------
    def conversation_of(self, message_id: str) -> Optional[str]:
        db = self._db()
        row = db.execute("SELECT conversation_id FROM inbound WHERE message_id=? AND conversation_id IS NOT NULL",
                         (message_id,)).fetchone()
        if row is None:
            row = db.execute("SELECT conversation_id FROM outbound WHERE message_id=?", (message_id,)).fetchone()
        return row["conversation_id"] if row else None

    def latest_inbound(self, conversation_id: str) -> Optional[Dict[str, Any]]:
        """The customer's latest mail of a conversation (a staff reply answers it)."""
        row = self._db().execute("SELECT * FROM inbound WHERE conversation_id=? AND raw_path != '' "
                                 "ORDER BY received_at DESC, id DESC LIMIT 1", (conversation_id,)).fetchone()
        return dict(row) if row else None

    def inbound_of_reply(self, outbound_id: int) -> Optional[Dict[str, Any]]:
        """The customer's mail a queued reply answers (None for a staff reply)."""
        row = self._db().execute("SELECT i.* FROM outbound o JOIN inbound i ON i.id = o.inbound_id WHERE o.id=?",
                                 (outbound_id,)).fetchone()
        return dict(row) if row else None

    def outbound(self, message_id: str) -> Optional[Dict[str, Any]]:
        """A queued reply by its Message-ID (state, attempts, last error)."""
        row = self._db().execute("SELECT * FROM outbound WHERE message_id=?", (message_id,)).fetchone()
        return dict(row) if row else None

    def auto_replies_to(self, recipient: str, since: float) -> int:
        return self._db().execute(
            "SELECT COUNT(*) FROM outbound WHERE recipient=? AND kind='auto_reply' AND created_at >= ?",
            (recipient.lower(), since)).fetchone()[0]

    def auto_replies_in(self, conversation_id: str, since: float) -> int:
        return self._db().execute(
            "SELECT COUNT(*) FROM outbound WHERE conversation_id=? AND kind='auto_reply' AND created_at >= ?",
            (conversation_id, since)).fetchone()[0]

    # -- sending ---------------------------------------------------------------------
    def claim_outbound(self, me: str, message_id: Optional[str] = None) -> Optional[OutboundRow]:
        """The next reply that is due (or the one with `message_id`, due or not)."""
        now = self.clock()
        with self._tx() as db:
            if message_id is not None:
                row = db.execute("SELECT * FROM outbound WHERE state='pending' AND message_id=? AND "
                                 "(claimed_by IS NULL OR lease_until < ?)", (message_id, now)).fetchone()
            else:
                row = db.execute(
                    "SELECT * FROM outbound WHERE state='pending' AND next_attempt_at <= ? AND "
                    "(claimed_by IS NULL OR lease_until < ?) ORDER BY next_attempt_at, id LIMIT 1", (now, now)).fetchone()
            if row is None:
                return None
            db.execute("UPDATE outbound SET claimed_by=?, lease_until=?, attempts=attempts+1, updated_at=? WHERE id=?",
                       (me, now + LEASE_SECONDS, now, row["id"]))
        return OutboundRow(row["id"], row["message_id"], row["conversation_id"], row["kind"], row["recipient"],
                           row["eml_path"], row["state"], row["attempts"] + 1)

    def next_outbound_due(self) -> Optional[float]:
        row = self._db().execute("SELECT MIN(next_attempt_at) FROM outbound WHERE state='pending'").fetchone()
        return row[0] if row else None

    def mark_sending(self, outbound_id: int) -> None:
        with self._tx() as db:
            db.execute("UPDATE outbound SET state='sending', updated_at=? WHERE id=?", (self.clock(), outbound_id))

    def mark_sent(self, outbound_id: int) -> None:
        now = self.clock()
        with self._tx() as db:
            db.execute("UPDATE outbound SET state='sent', sent_at=?, claimed_by=NULL, lease_until=NULL, last_error=NULL, "
                       "updated_at=? WHERE id=?", (now, now, outbound_id))

    def retry_later(self, outbound_id: int, error: str, at: float) -> None:
        with self._tx() as db:
            db.execute("UPDATE outbound SET state='pending', next_attempt_at=?, last_error=?, claimed_by=NULL, "
                       "lease_until=NULL, updated_at=? WHERE id=?", (at, error, self.clock(), outbound_id))

    def mark_outbound(self, outbound_id: int, state: str, error: str) -> None:
        with self._tx() as db:
            db.execute("UPDATE outbound SET state=?, last_error=?, claimed_by=NULL, lease_until=NULL, updated_at=? "
                       "WHERE id=?", (state, error, self.clock(), outbound_id))

    # -- IMAP ------------------------------------------------------------------------
    def state_get(self, key: str) -> Optional[str]:
        row = self._db().execute("SELECT value FROM state WHERE key=?", (key,)).fetchone()
        return row["value"] if row else None

    def state_set(self, key: str, value: str) -> None:
        with self._tx() as db:
            db.execute("INSERT INTO state(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                       (key, value))

    def forget_uids(self, account: str, uidvalidity: int) -> int:
        """UIDVALIDITY changed: UIDs of the old epoch mean nothing any more."""
        with self._tx() as db:
            db.execute("UPDATE imap_copies SET imap_moved=-1 WHERE imap_account=? AND imap_moved=0 "
                       "AND imap_uidvalidity != ?", (account, uidvalidity))
            return db.execute("UPDATE inbound SET imap_moved=-1, updated_at=? WHERE imap_account=? AND imap_moved=0 "
                              "AND imap_uidvalidity != ?", (self.clock(), account, uidvalidity)).rowcount

    def pending_moves(self, account: str, uidvalidity: int) -> List[Tuple[int, int, str]]:
        """(key, uid, status) of mails whose outcome is stored but which are still in the
        mailbox: the key is the row id, or minus the id of a further copy (`imap_copies`)."""
        db = self._db()
        rows = db.execute(
            "SELECT id, imap_uid, status FROM inbound WHERE imap_account=? AND imap_uidvalidity=? AND imap_moved=0 "
            "AND status IN ('processed', 'ignored', 'failed') ORDER BY id", (account, uidvalidity))
        moves = [(r["id"], r["imap_uid"], r["status"]) for r in rows]
        copies = db.execute(
            "SELECT c.id, c.imap_uid, i.status FROM imap_copies c JOIN inbound i ON i.id = c.inbound_id "
            "WHERE c.imap_account=? AND c.imap_uidvalidity=? AND c.imap_moved=0 "
            "AND i.status IN ('processed', 'ignored', 'failed') ORDER BY c.id", (account, uidvalidity))
        return moves + [(-r["id"], r["imap_uid"], r["status"]) for r in copies]

    def mark_moved(self, ids: Iterable[int]) -> None:
        ids = list(ids)
        if not ids:
            return
        with self._tx() as db:
            db.executemany("UPDATE inbound SET imap_moved=1, updated_at=? WHERE id=?",
                           [(self.clock(), i) for i in ids if i > 0])
            db.executemany("UPDATE imap_copies SET imap_moved=1 WHERE id=?", [(-i,) for i in ids if i < 0])

    # -- retention -------------------------------------------------------------------
    def purge(self, before: float, outbox_dir: Optional[Path] = None, dry_run: bool = False) -> Dict[str, int]:
        """Delete the raw mails and composed replies of mails finished before `before`
        (epoch seconds), and the outbox folder's .eml files older than that. The rows
        stay (the outcome, for `ks1bot mail status`), without the customer's text."""
        counts = {"raw_mails": 0, "replies": 0, "outbox_files": 0}
        final = ("processed", "ignored", "failed")
        db = self._db()
        old = db.execute(f"SELECT id, raw_path FROM inbound WHERE received_at < ? AND raw_path != '' AND status IN "
                         f"({','.join('?' * len(final))})", (before, *final)).fetchall()
        kept = {r["raw_path"] for r in db.execute(
            "SELECT raw_path FROM inbound WHERE raw_path != '' AND (received_at >= ? OR status IN ('queued', "
            "'processing'))", (before,))}
        replies = db.execute("SELECT id, eml_path FROM outbound WHERE created_at < ? AND eml_path != '' AND state IN "
                             "('sent', 'failed', 'unconfirmed')", (before,)).fetchall()
        counts["raw_mails"], counts["replies"] = len(old), len(replies)
        if not dry_run:
            for row in old:
                if row["raw_path"] not in kept:
                    (self.directory / row["raw_path"]).unlink(missing_ok=True)
            for row in replies:
                (self.directory / row["eml_path"]).unlink(missing_ok=True)
            with self._tx() as tx:
                tx.executemany("UPDATE inbound SET raw_path='', text=NULL, updated_at=? WHERE id=?",
                               [(self.clock(), r["id"]) for r in old])
                tx.executemany("UPDATE outbound SET eml_path='', text=NULL, updated_at=? WHERE id=?",
                               [(self.clock(), r["id"]) for r in replies])
        if outbox_dir is not None and Path(outbox_dir).is_dir():
            for path in Path(outbox_dir).glob("*.eml"):
                if path.stat().st_mtime < before:
                    counts["outbox_files"] += 1
                    if not dry_run:
                        path.unlink(missing_ok=True)
        return counts

    # -- status ----------------------------------------------------------------------
    def summary(self) -> Dict[str, Any]:
        db = self._db()
        inbound = {r["status"]: r["n"] for r in db.execute("SELECT status, COUNT(*) AS n FROM inbound GROUP BY status")}
        outbound = {r["state"]: r["n"] for r in db.execute("SELECT state, COUNT(*) AS n FROM outbound GROUP BY state")}
        last = db.execute(
            "SELECT at, what, message_id, error FROM ("
            " SELECT updated_at AS at, 'inbound' AS what, message_id, last_error AS error FROM inbound WHERE last_error IS NOT NULL"
            " UNION ALL SELECT updated_at, 'reply', message_id, last_error FROM outbound WHERE last_error IS NOT NULL"
            ") ORDER BY at DESC LIMIT 1").fetchone()
        failures = [dict(r) for r in db.execute(
            "SELECT id, message_id, sender, subject, reason, last_error, updated_at FROM inbound WHERE status='failed' "
            "ORDER BY id DESC LIMIT 20")]
        to_staff = [dict(r) for r in db.execute(
            "SELECT id, message_id, sender, subject, reason, last_error, updated_at FROM inbound "
            "WHERE route='handoff' AND reason IN ('unparseable_mail', 'processing_error', 'processing_crashed') "
            "ORDER BY id DESC LIMIT 20")]
        to_staff_count = db.execute(
            "SELECT COUNT(*) FROM inbound WHERE route='handoff' AND reason IN "
            "('unparseable_mail', 'processing_error', 'processing_crashed')").fetchone()[0]
        handed = db.execute("SELECT COUNT(*) FROM inbound WHERE route='handoff'").fetchone()[0]
        reply_failures = [dict(r) for r in db.execute(
            "SELECT id, message_id, recipient, state, attempts, last_error, updated_at FROM outbound "
            "WHERE state IN ('failed', 'unconfirmed') ORDER BY id DESC LIMIT 20")]
        retrying = db.execute("SELECT COUNT(*) FROM outbound WHERE state='pending' AND last_error IS NOT NULL").fetchone()[0]
        reasons = {r["reason"]: r["n"] for r in db.execute(
            "SELECT reason, COUNT(*) AS n FROM inbound WHERE status='ignored' GROUP BY reason")}
        return {
            "inbound": {s: inbound.get(s, 0) for s in ("queued", "processing", "processed", "ignored", "failed")},
            "queue_depth": inbound.get("queued", 0) + inbound.get("processing", 0),
            "replies": {s: outbound.get(s, 0) for s in ("pending", "sending", "sent", "unconfirmed", "failed")},
            "replies_retrying": retrying,
            "ignored_reasons": reasons,
            "duplicates": int(self.state_get("duplicates") or 0),
            "last_error": dict(last) if last else None,
            "failures": failures,
            "handed_to_staff": handed,
            "to_staff_after_failure": to_staff,
            "to_staff_after_failure_count": to_staff_count,
            "reply_failures": reply_failures,
        }
