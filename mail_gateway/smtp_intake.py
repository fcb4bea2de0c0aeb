"""Inbound SMTP (aiosmtpd): accept, persist, acknowledge. Nothing slow happens inside
the SMTP conversation: the handler checks that the bytes are a message, writes them
to the durable queue (in a thread, so the event loop keeps serving), and answers 250.
Classification and replies are the worker's job."""
from __future__ import annotations

import asyncio
import logging
from typing import Callable, List, Optional

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import MISSING, SMTP

from ks1bot.core import logs
from mail_gateway.parsing import malformed_reason
from mail_gateway.store import MailStore

log = logging.getLogger("mail_gateway.smtp")


def with_return_path(raw: bytes, mail_from: Optional[str]) -> bytes:
    """Add Return-Path from the envelope, as a final delivery does (RFC 5321 §4.4), so
    loop protection sees a null sender (bounces)."""
    if raw[:12].lower().startswith(b"return-path:"):
        return raw
    sender = (mail_from or "").strip().strip("<>")
    return b"Return-Path: <" + sender.encode("utf-8", "replace") + b">\r\n" + raw


class IntakeHandler:
    """The aiosmtpd handler: `handle_DATA` returns the SMTP status line."""

    def __init__(self, store: MailStore, on_enqueued: Callable[[], None] = lambda: None,
                 crash: Callable[..., None] = lambda step, **_ids: None) -> None:
        self.store = store
        self.on_enqueued = on_enqueued
        self.crash = crash

    async def handle_DATA(self, server, session, envelope) -> str:
        raw = envelope.original_content or envelope.content or b""
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        reason = malformed_reason(raw)
        if reason:
            logs.event(log, "mail_rejected", logging.WARNING, reason=reason, peer=str(session.peer[0]),
                       mail_from=envelope.mail_from, size=len(raw))
            return f"554 5.6.0 Rejected: {reason}"
        data = with_return_path(raw, envelope.mail_from)
        loop = asyncio.get_running_loop()
        try:
            result = await loop.run_in_executor(None, self.store.enqueue, data, "smtp", envelope.mail_from or "")
        except Exception as exc:  # the disk or the database: the sender keeps the mail and retries
            logs.event(log, "mail_enqueue_failed", logging.ERROR, error=repr(exc))
            return "451 4.3.0 Temporary failure storing the message; try again later"
        logs.event(log, "mail_received", source="smtp", message_id=result.message_id, queue_id=result.id,
                   duplicate=result.duplicate, size=len(data))
        self.crash("after_enqueue", message_id=result.message_id)
        self.on_enqueued()
        return f"250 2.0.0 OK queued as {result.id}"


#: The stream limit of a connection: what one read may buffer. RFC 5321 allows 1000 octets
#: per line, but real mail has longer ones (Outlook's HTML, old clients), and the message
#: data is read in large pieces (below), so it is the largest message the listener takes.
STREAM_LIMIT = 64 * 1024 * 1024 + 1024


class _IntakeSMTP(SMTP):
    """aiosmtpd's SMTP with the message data read in large pieces.

    aiosmtpd reads DATA one line at a time in Python (a 4 MB attachment is 55,000 lines,
    about 150 ms of the gateway's CPU, competing with the worker for the GIL). This reads
    up to each ".<CRLF>" and stops at the one that starts a line — the end of the data
    (RFC 5321 §4.1.1.4) — then removes the dot-stuffing in one pass (§4.5.2). Everything
    else (checks before DATA, the handler hook, the reply, the state after DATA) is
    aiosmtpd's own behaviour."""

    line_length_limit = STREAM_LIMIT  # read when the connection's stream is made

    async def smtp_DATA(self, arg: str) -> None:
        if await self.check_helo_needed():
            return
        if await self.check_auth_needed("DATA"):
            return
        assert self.envelope is not None
        if not self.envelope.rcpt_tos:
            await self.push("503 Error: need RCPT command")
            return
        if arg:
            await self.push("501 Syntax: DATA")
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        chunks: List[bytes] = []
        size = 0
        too_much = False
        limit = self.data_size_limit
        while self.transport is not None:
            try:
                chunk = await self._reader.readuntil(b".\r\n")
            except asyncio.CancelledError:
                log.info("connection lost during DATA")
                self._writer.close()
                raise
            except asyncio.LimitOverrunError as exc:  # no ".<CRLF>" within the stream limit: far too big
                too_much = True
                chunks = []
                await self._reader.read(exc.consumed)
                continue
            except asyncio.IncompleteReadError:
                return  # the client went away
            ends = (chunk == b".\r\n" and (not chunks or chunks[-1].endswith(b"\r\n"))) or chunk.endswith(b"\r\n.\r\n")
            size += len(chunk)
            if limit and size > limit:
                too_much = True
                chunks = []
            if not too_much:
                chunks.append(chunk)
            if ends:
                break
        if too_much:
            await self.push("552 Error: Too much mail data")
            self._set_post_data_state()
            return
        data = b"".join(chunks)
        data = data[:-3] if data.endswith(b".\r\n") else data
        # dot-stuffing: the first dot of every line that starts with one goes (as aiosmtpd does)
        original_content = (data[1:] if data.startswith(b".") else data).replace(b"\r\n.", b"\r\n")
        self.envelope.content = original_content
        self.envelope.original_content = original_content
        status = await self._call_handler_hook("DATA")
        self._set_post_data_state()
        await self.push("250 OK" if status is MISSING else status)


class _Controller(Controller):
    def __init__(self, *args, stream_limit: int = STREAM_LIMIT, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # the stream limit is read when a connection's stream is made: a class per listener
        self.server_class = type("IntakeSMTP", (_IntakeSMTP,), {"line_length_limit": stream_limit})

    def factory(self):
        return self.server_class(self.handler, **self.SMTP_kwargs)


class SmtpIntake:
    """The listener's lifecycle, separate from the handler."""

    def __init__(self, handler: IntakeHandler, host: str, port: int, max_message_bytes: int) -> None:
        self.controller = _Controller(handler, hostname=host, port=port, data_size_limit=max_message_bytes,
                                      enable_SMTPUTF8=True, decode_data=False, ready_timeout=10.0,
                                      stream_limit=max(STREAM_LIMIT, max_message_bytes + 1024))
        self.host, self.port = host, port

    @property
    def running(self) -> bool:
        """The listener accepts connections (readiness)."""
        return getattr(self.controller, "server", None) is not None

    def start(self) -> None:
        self.controller.start()
        logs.event(log, "smtp_listening", host=self.host, port=self.port)

    def stop(self) -> None:
        self.controller.stop()
