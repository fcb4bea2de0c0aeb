"""IMAP intake (imapclient): fetch new mail by UID into the durable queue, and move each
mail to the processed (or failed) folder only once its outcome is stored.

`ImapPoller.start()/stop()` like aiosmtpd's Controller. TLS (imaps://) or STARTTLS when
the server offers it; IDLE when the server has it, polling otherwise. UIDVALIDITY is
remembered: when it changes, old UIDs are forgotten and the mailbox is read afresh
(mails already in the queue are recognised by Message-ID). A dropped connection is
reopened with backoff; nothing is lost, because nothing leaves the mailbox before its
outcome is stored.
"""
from __future__ import annotations

import logging
import socket
import ssl
import threading
import time
from typing import Callable, Dict, List, Optional, Set

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

from ks1bot.core import logs
from ks1bot.core.settings import MailSettings
from mail_gateway.config import ImapAccount
from mail_gateway.errors import ImapError
from mail_gateway.store import MailStore

log = logging.getLogger("mail_gateway.imap")

#: What a broken or refusing IMAP connection raises, wrapped into ImapError.
_IMAP_ERRORS = (IMAPClientError, OSError, socket.timeout, ssl.SSLError, EOFError)


def folder_path(name: str, delimiter: Optional[str]) -> str:
    """'KS1-Bot/Processed' in the server's hierarchy ('KS1-Bot.Processed' with '.')."""
    if not delimiter or delimiter == "/":
        return name
    return delimiter.join(part for part in name.split("/") if part)


class ImapPoller:
    def __init__(
        self,
        account: ImapAccount,
        store: MailStore,
        options: MailSettings,
        *,
        on_enqueued: Callable[[], None] = lambda: None,
        crash: Callable[..., None] = lambda step, **_ids: None,
        client_factory: Callable[..., IMAPClient] = IMAPClient,
        timeout: float = 60.0,
    ) -> None:
        self.account = account
        self.store = store
        self.options = options
        self.on_enqueued = on_enqueued
        self.crash = crash
        self.client_factory = client_factory
        self.timeout = timeout
        self.key = f"{account.username}@{account.host}:{account.port}/{account.mailbox}"
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._client: Optional[IMAPClient] = None
        self._seen: Set[int] = set()
        self._uidvalidity: Optional[int] = None
        #: Counters for tests and status: sessions opened, IDLE used.
        self.sessions = 0
        self.idle_supported: Optional[bool] = None
        self.connected = threading.Event()

    # -- lifecycle -------------------------------------------------------------------
    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="imap-poller", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        client = self._client
        if client is not None:
            try:
                client.socket().shutdown(socket.SHUT_RDWR)
            except Exception:
                pass
        if self._thread is not None:
            self._thread.join(timeout)

    def wake(self) -> None:
        """An outcome was stored: move it soon (interrupts IDLE)."""
        self._wake.set()

    def moves_waiting(self) -> bool:
        """Mails of this mailbox with a stored outcome, not yet moved — stored by other
        workers, whose outcomes do not wake this poller (the gateway asks periodically)."""
        uidvalidity = self._uidvalidity
        return uidvalidity is not None and bool(self.store.pending_moves(self.key, uidvalidity))

    # -- the loop --------------------------------------------------------------------
    def _run(self) -> None:
        backoff = 0.5
        while not self._stop.is_set():
            try:
                self._session()
                backoff = 0.5
            except ImapError as exc:
                if self._stop.is_set():
                    break
                logs.event(log, "imap_connection_lost", logging.WARNING, account=self.account.describe(),
                           error=str(exc), retry_in=backoff)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 30.0)
            except Exception as exc:  # a bug must not end intake: log, wait, go on
                logs.event(log, "imap_error", logging.ERROR, account=self.account.describe(), error=repr(exc))
                self._stop.wait(5.0)
            finally:
                self.connected.clear()
                self._close()

    def _close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                client.logout()
            except Exception:
                try:
                    client.shutdown()
                except Exception:
                    pass

    def _connect(self) -> IMAPClient:
        context = ssl.create_default_context(cafile=self.options.ca_file) if (
            self.account.tls or self.options.ca_file) else ssl.create_default_context()
        client = self.client_factory(self.account.host, self.account.port, ssl=self.account.tls,
                                     ssl_context=context if self.account.tls else None, timeout=self.timeout)
        if not self.account.tls and client.has_capability("STARTTLS"):
            client.starttls(context)
        client.login(self.account.username, self.account.password)
        return client

    def _session(self) -> None:
        try:
            self._client = client = self._connect()
            self.sessions += 1
            selected = client.select_folder(self.account.mailbox)
            uidvalidity = int(selected[b"UIDVALIDITY"])
            self._check_uidvalidity(uidvalidity)
            folders = self._ensure_folders(client)
            self.idle_supported = client.has_capability("IDLE")
            self.connected.set()
            logs.event(log, "imap_connected", account=self.account.describe(), uidvalidity=uidvalidity,
                       idle=self.idle_supported)
            while not self._stop.is_set():
                self._move_done(client, uidvalidity, folders)
                self._fetch_new(client, uidvalidity)
                self._move_done(client, uidvalidity, folders)
                self._wait(client)
        except _IMAP_ERRORS as exc:
            raise ImapError(f"{type(exc).__name__}: {exc}") from exc

    def _check_uidvalidity(self, uidvalidity: int) -> None:
        key = f"imap_uidvalidity:{self.key}"
        known = self.store.state_get(key)
        if known is not None and int(known) != uidvalidity:
            forgotten = self.store.forget_uids(self.key, uidvalidity)
            logs.event(log, "imap_uidvalidity_changed", logging.WARNING, account=self.account.describe(),
                       old=int(known), new=uidvalidity, forgotten=forgotten)
        if known is None or int(known) != uidvalidity:
            self.store.state_set(key, str(uidvalidity))
            self._seen.clear()
        if self._uidvalidity != uidvalidity:
            self._seen.clear()
        self._uidvalidity = uidvalidity

    def _ensure_folders(self, client: IMAPClient) -> Dict[str, str]:
        delimiter = None
        try:
            listing = client.list_folders(directory="", pattern="")
            if listing and listing[0][1]:
                delimiter = listing[0][1].decode() if isinstance(listing[0][1], bytes) else listing[0][1]
        except IMAPClientError:
            pass
        folders = {}
        for status, name in (("processed", self.options.processed_folder), ("failed", self.options.failed_folder)):
            path = folder_path(name, delimiter)
            if not client.folder_exists(path):
                parts = path.split(delimiter) if delimiter and delimiter != "/" else path.split("/")
                for i in range(1, len(parts) + 1):
                    prefix = (delimiter or "/").join(parts[:i])
                    if not client.folder_exists(prefix):
                        client.create_folder(prefix)
                logs.event(log, "imap_folder_created", folder=path)
            folders[status] = path
        folders["ignored"] = folders["processed"]
        return folders

    def _fetch_new(self, client: IMAPClient, uidvalidity: int) -> None:
        uids = sorted(u for u in client.search("ALL") if u not in self._seen)
        for uid in uids:
            if self._stop.is_set():
                return
            response = client.fetch([uid], ["BODY.PEEK[]"])
            raw = (response.get(uid) or {}).get(b"BODY[]")
            if raw is None:  # expunged meanwhile
                continue
            self.crash("after_fetch", imap_uid=uid)
            result = self.store.enqueue(bytes(raw), "imap", imap=(self.key, uidvalidity, uid))
            self._seen.add(uid)
            logs.event(log, "mail_received", source="imap", message_id=result.message_id, queue_id=result.id,
                       imap_uid=uid, duplicate=result.duplicate, size=len(raw))
            self.crash("after_enqueue", message_id=result.message_id)
            self.on_enqueued()

    def _move_done(self, client: IMAPClient, uidvalidity: int, folders: Dict[str, str]) -> None:
        self._wake.clear()
        pending = self.store.pending_moves(self.key, uidvalidity)
        if not pending:
            return
        by_folder: Dict[str, List[int]] = {}
        for _row_id, uid, status in pending:
            by_folder.setdefault(folders[status], []).append(uid)
        for folder, uids in by_folder.items():
            if client.has_capability("MOVE"):
                client.move(uids, folder)
            else:
                client.copy(uids, folder)
                client.delete_messages(uids)
                if client.has_capability("UIDPLUS"):
                    client.uid_expunge(uids)
                else:
                    client.expunge()
            logs.event(log, "imap_moved", folder=folder, count=len(uids))
        self.crash("after_move")
        self.store.mark_moved(row_id for row_id, _uid, _status in pending)
        self._seen.difference_update(uid for _row_id, uid, _status in pending)

    def _wait(self, client: IMAPClient) -> None:
        if self._wake.is_set() or self._stop.is_set():
            return
        if not self.idle_supported:
            self._wake.wait(self.options.poll_seconds)
            return
        client.idle()
        deadline = time.monotonic() + self.options.idle_seconds
        try:
            while not self._stop.is_set() and not self._wake.is_set() and time.monotonic() < deadline:
                responses = client.idle_check(timeout=0.25)
                if any(len(r) > 1 and r[1] in (b"EXISTS", b"RECENT") for r in responses):
                    break
                if any(r and r[0] == b"BYE" for r in responses):
                    raise ImapError("the server ended the connection")
        finally:
            if not self._stop.is_set():
                client.idle_done()
