"""Inbound SMTP (aiosmtpd): accept, persist, acknowledge. Nothing slow happens inside
the SMTP conversation: the handler checks that the bytes are a message, writes them
to the durable queue (in a thread, so the event loop keeps serving), and answers 250.
Classification and replies are the worker's job."""
from __future__ import annotations

import asyncio
import logging
from typing import Callable, Optional

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

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


#: Longest line the listener takes. RFC 5321 allows 1000 octets, but real mail has longer
#: ones (Outlook's HTML, old clients); refusing them would bounce a customer's mail.
MAX_LINE_BYTES = 65536


class _LongLinesSMTP(SMTP):
    line_length_limit = MAX_LINE_BYTES  # read when the connection's stream is made


class _Controller(Controller):
    def factory(self):
        return _LongLinesSMTP(self.handler, **self.SMTP_kwargs)


class SmtpIntake:
    """The listener's lifecycle, separate from the handler."""

    def __init__(self, handler: IntakeHandler, host: str, port: int, max_message_bytes: int) -> None:
        self.controller = _Controller(handler, hostname=host, port=port, data_size_limit=max_message_bytes,
                                      enable_SMTPUTF8=True, decode_data=False, ready_timeout=10.0)
        self.host, self.port = host, port

    def start(self) -> None:
        self.controller.start()
        logs.event(log, "smtp_listening", host=self.host, port=self.port)

    def stop(self) -> None:
        self.controller.stop()
