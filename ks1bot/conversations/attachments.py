"""Files of conversations: what customers sent, what staff attach to replies.

The rows are in the conversation record (table `attachments`); the bytes are files under
the data directory (`data_dir/attachments/ab/abcdef…`, named by their SHA-256, written
atomically, so the same file twice is stored once). Channels store the files of a
message (`save_message_files`: idempotent per message, with a size limit per message:
files beyond it are listed, not stored); the staff console lists a handoff's files,
serves them for download and previews images; a staff reply's files are saved with its
outbox row and the channel sends them. `purge` deletes what is older than the retention
period.

Images are previewed only when their bytes are PNG, JPEG, GIF or WebP (`sniff_image`):
what the sender declared as the type is shown, never trusted.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, List, Optional, Sequence

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from ks1bot.conversations.db import session_factory, utc
from ks1bot.conversations.models import AttachmentRow
from ks1bot.core import logs
from ks1bot.core.messages import now_utc

log = logging.getLogger("ks1bot.conversations.attachments")

#: 25 MB per message unless the settings say otherwise (mail.max_attachment_bytes).
DEFAULT_MAX_BYTES = 25 * 1024 * 1024
PREVIEW_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")


def sniff_image(data: bytes) -> Optional[str]:
    """The image type the bytes are (PNG, JPEG, GIF, WebP), else None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


@dataclass(frozen=True)
class NewFile:
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class FileView:
    id: int
    channel: str
    conversation_id: str
    direction: str
    filename: str
    content_type: str
    size: int
    sha256: str
    preview_type: Optional[str]
    stored: bool
    note: Optional[str]
    created_at: dt.datetime
    outbox_id: Optional[int] = None
    source_message_id: Optional[str] = None

    @property
    def size_label(self) -> str:
        size = float(self.size)
        for unit in ("bytes", "KB", "MB", "GB"):
            if size < 1024 or unit == "GB":
                return f"{int(size)} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
            size /= 1024
        return f"{self.size} bytes"


def _view(row: AttachmentRow) -> FileView:
    return FileView(row.id, row.channel, row.conversation_id, row.direction, row.filename, row.content_type,
                    int(row.size), row.sha256, row.preview_type, bool(row.stored), row.note, utc(row.created_at),
                    row.outbox_id, row.source_message_id)


def safe_filename(name: str, fallback: str = "attachment") -> str:
    """A file name without path parts or control characters, at most 200 characters."""
    name = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch >= " " and ch != "\x7f").strip().strip(".")
    return name[:200] or fallback


class Attachments:
    """The files of the conversation record: rows in its database, bytes in `directory`."""

    def __init__(self, engine, directory: Path, clock: Callable[[], dt.datetime] = now_utc) -> None:
        self.Session = session_factory(engine)
        self.directory = Path(directory)
        self.clock = clock

    # -- bytes -----------------------------------------------------------------------------
    def path_of(self, sha256: str) -> Path:
        return self.directory / sha256[:2] / sha256

    def _write(self, data: bytes) -> str:
        sha = hashlib.sha256(data).hexdigest()
        path = self.path_of(sha)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
            with open(tmp, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        return sha

    def read(self, view: FileView) -> bytes:
        return self.path_of(view.sha256).read_bytes()

    # -- channels write --------------------------------------------------------------------
    def save_message_files(self, channel: str, conversation_id: str, source_message_id: str,
                           files: Sequence[NewFile], max_bytes: int = DEFAULT_MAX_BYTES,
                           keys: Optional[Sequence[str]] = None) -> List[FileView]:
        """Store the files of one customer message (once per message: a retry finds them).
        While the message's files together stay within `max_bytes` they are stored; the
        rest are listed with a note. `keys`: the per-file key suffixes (default 0, 1, …)."""
        now = self.clock()
        rows = []
        total = 0
        for n, new in enumerate(files):
            suffix = keys[n] if keys else str(n)
            key = f"{source_message_id}#{suffix}"[:320]
            fits = total + len(new.data) <= max_bytes
            sha = self._write(new.data) if fits else hashlib.sha256(new.data).hexdigest()
            if fits:
                total += len(new.data)
            note = None if fits else (f"not stored: the files of this message are larger than the limit of "
                                      f"{max_bytes // (1024 * 1024)} MB; ask the customer for another way to send it")
            rows.append(AttachmentRow(
                channel=channel, conversation_id=conversation_id, key=key, source_message_id=source_message_id,
                direction="customer", filename=safe_filename(new.filename), content_type=_ctype(new.content_type),
                size=len(new.data), sha256=sha, preview_type=sniff_image(new.data[:16]) if fits else None,
                stored=fits, note=note, created_at=now))
        saved = []
        for row in rows:  # one by one: the ones a crashed earlier attempt stored are there already
            try:
                with self.Session.begin() as session:
                    session.add(row)
                    session.flush()
                    saved.append(_view(row))
            except IntegrityError:
                with self.Session() as session:
                    existing = session.execute(select(AttachmentRow).where(AttachmentRow.key == row.key)).scalar()
                    if existing is not None:
                        saved.append(_view(existing))
        if saved:
            logs.event(log, "attachments_saved", conversation_id=conversation_id, message_id=source_message_id,
                       count=len(saved), stored=sum(1 for v in saved if v.stored))
        return saved

    def staff_rows(self, channel: str, conversation_id: str, outbox_id: int, files: Sequence[NewFile],
                   key: str) -> List[AttachmentRow]:
        """The rows of files staff attach to a reply; the store adds them in the reply's
        transaction (the bytes are written first, so the rows never point at nothing)."""
        now = self.clock()
        rows = []
        for n, new in enumerate(files):
            sha = self._write(new.data)
            rows.append(AttachmentRow(
                channel=channel, conversation_id=conversation_id, key=f"staff:{key}#{n}"[:320], outbox_id=outbox_id,
                direction="staff", filename=safe_filename(new.filename), content_type=_ctype(new.content_type),
                size=len(new.data), sha256=sha, preview_type=sniff_image(new.data[:16]), stored=True,
                created_at=now))
        return rows

    # -- reads -----------------------------------------------------------------------------
    def get(self, file_id: int) -> Optional[FileView]:
        with self.Session() as session:
            row = session.get(AttachmentRow, file_id)
            return _view(row) if row else None

    def for_conversation(self, channel: str, conversation_id: str) -> List[FileView]:
        with self.Session() as session:
            rows = session.execute(select(AttachmentRow).where(
                AttachmentRow.channel == channel, AttachmentRow.conversation_id == conversation_id)
                .order_by(AttachmentRow.id)).scalars()
            return [_view(r) for r in rows]

    def for_outbox(self, outbox_id: int) -> List[FileView]:
        with self.Session() as session:
            rows = session.execute(select(AttachmentRow).where(AttachmentRow.outbox_id == outbox_id)
                                   .order_by(AttachmentRow.id)).scalars()
            return [_view(r) for r in rows]

    # -- retention -------------------------------------------------------------------------
    def purge(self, before: dt.datetime, dry_run: bool = False) -> dict:
        """Delete the files (rows and bytes) created before `before`; bytes still used by a
        newer row stay. Returns counts."""
        with self.Session.begin() as session:
            old = session.execute(select(AttachmentRow.id, AttachmentRow.sha256)
                                  .where(AttachmentRow.created_at < before)).all()
            if not dry_run and old:
                session.execute(delete(AttachmentRow).where(AttachmentRow.id.in_([r.id for r in old]))
                                .execution_options(synchronize_session=False))
            hashes = {r.sha256 for r in old}
            still = set(session.execute(select(AttachmentRow.sha256).where(AttachmentRow.sha256.in_(hashes))
                                        .where(AttachmentRow.created_at >= before)).scalars()) if hashes else set()
        removed = 0
        for sha in hashes - still:
            path = self.path_of(sha)
            if path.exists():
                removed += 1
                if not dry_run:
                    path.unlink()
        counts = {"attachment_rows": len(old), "attachment_files": removed}
        logs.event(log, "attachments_purged", dry_run=dry_run, before=before.isoformat(), **counts)
        return counts


def _ctype(value: str) -> str:
    value = (value or "").strip().lower()[:255]
    return value if "/" in value else "application/octet-stream"

