"""Retention: what is older than mail.retention_days (default 365) is deleted — the raw
mails and composed replies of the mail queue, the outbox folder's .eml files and the
conversations' files (attachments, originals of unreadable mails). `ks1bot mail cleanup`
runs it by hand; the running gateway runs it at start and once a day (`RetentionJob`)."""
from __future__ import annotations

import datetime as dt
import logging
import threading
from pathlib import Path
from typing import Any, Callable, Dict, Optional

from ks1bot.core import logs

log = logging.getLogger("mail_gateway.retention")
DAY_SECONDS = 86400.0


def retention_cleanup(store, files, outbox_dir: Optional[Path], days: float, dry_run: bool = False,
                      now: Optional[dt.datetime] = None) -> Dict[str, Any]:
    """Delete what is older than `days` from the mail queue (`store`: MailStore) and the
    conversations' files (`files`: Attachments, or None); returns the counts."""
    now = now or dt.datetime.now(dt.timezone.utc)
    before = now - dt.timedelta(days=days)
    counts: Dict[str, Any] = {"before": before.isoformat(timespec="seconds"), "dry_run": dry_run}
    counts.update(store.purge(before.timestamp(), outbox_dir, dry_run=dry_run))
    if files is not None:
        counts.update(files.purge(before, dry_run=dry_run))
    logs.event(log, "retention_cleanup", days=days, **counts)
    return counts


class NoQueue:
    """No mail queue in this data directory yet: nothing of it to delete."""

    def purge(self, before: float, outbox_dir: Optional[Path] = None, dry_run: bool = False) -> Dict[str, int]:
        return {"raw_mails": 0, "replies": 0, "outbox_files": 0}


class RetentionJob:
    """The gateway's daily cleanup: at start, then every `interval` seconds."""

    def __init__(self, run: Callable[[], Any], interval: float = DAY_SECONDS) -> None:
        self.run = run
        self.interval = interval

    def loop(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.run()
            except Exception as exc:  # a locked database, a full disk: try again tomorrow
                logs.event(log, "retention_error", logging.ERROR, error=repr(exc))
            stop.wait(self.interval)
