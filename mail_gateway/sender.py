"""Sending replies: through an SMTP relay, or (no relay configured) into an outbox
folder of .eml files. Both are exactly-once per reply Message-ID:

* outbox — the file is named after the Message-ID and written atomically; writing
  it again is a no-op.
* relay — the reply is marked `sending` in the queue only once the whole message
  except the final "." has gone to the relay. A crash before that leaves it
  `pending` (the relay discards an unfinished transaction, so sending again is safe);
  a crash after it leaves it `sending`, which the next start turns into
  `unconfirmed`: never sent twice, and shown to a person. The relay's 250 makes it
  `sent`.

Library errors (smtplib, socket, ssl) are turned into RelayTemporaryError (retry
with backoff), RelayPermanentError (5xx) or RelayUnconfirmed.
"""
from __future__ import annotations

import re
import smtplib
import socket
import ssl
import threading
from pathlib import Path
from typing import Callable, Optional, Protocol

from mail_gateway.config import Relay
from mail_gateway.errors import RelayPermanentError, RelayTemporaryError, RelayUnconfirmed
from mail_gateway.store import write_atomic

MarkSending = Callable[[], None]


class Sender(Protocol):
    def send(self, envelope_from: str, recipient: str, data: bytes, message_id: str,
             mark_sending: MarkSending) -> None: ...

    def close(self) -> None: ...


def outbox_name(message_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._@+-]", "_", message_id.strip("<>")) + ".eml"


class OutboxSender:
    """Replies as .eml files in a folder (the default of `make run`: no relay)."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def send(self, envelope_from: str, recipient: str, data: bytes, message_id: str,
             mark_sending: MarkSending) -> None:
        path = self.directory / outbox_name(message_id)
        if not path.exists():
            write_atomic(path, data)

    def close(self) -> None:
        pass


_LINE_END = re.compile(rb"\r\n|\r|\n")
_LEADING_DOT = re.compile(rb"(?m)^\.")


def dot_stuff(data: bytes) -> bytes:
    """CRLF line ends and leading dots doubled (RFC 5321 §4.5.2), ending in CRLF."""
    body = _LEADING_DOT.sub(b"..", _LINE_END.sub(b"\r\n", data))
    return body if body.endswith(b"\r\n") else body + b"\r\n"


def _error(code: int, text: str) -> Exception:
    message = f"relay answered {code} {text}".strip()
    return RelayTemporaryError(message) if 400 <= code < 500 else RelayPermanentError(message)


class RelaySender:
    """A reused SMTP connection to the relay per sending thread (STARTTLS, login from the
    environment): the gateway's sender threads deliver side by side, each reply once."""

    def __init__(self, relay: Relay, ca_file: Optional[str] = None, timeout: float = 30.0,
                 local_hostname: Optional[str] = None) -> None:
        self.relay = relay
        self.ca_file = ca_file
        self.timeout = timeout
        self.local_hostname = local_hostname
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open: list = []

    @property
    def _smtp(self) -> Optional[smtplib.SMTP]:
        return getattr(self._local, "smtp", None)

    @_smtp.setter
    def _smtp(self, smtp: Optional[smtplib.SMTP]) -> None:
        self._local.smtp = smtp
        if smtp is not None:
            with self._lock:
                self._open.append(smtp)

    def _connect(self) -> smtplib.SMTP:
        try:
            smtp = smtplib.SMTP(self.relay.host, self.relay.port, timeout=self.timeout,
                                local_hostname=self.local_hostname)
            smtp.ehlo()
            if self.relay.starttls and smtp.has_extn("starttls"):
                context = ssl.create_default_context(cafile=self.ca_file)
                smtp.starttls(context=context)
                smtp.ehlo()
            elif self.relay.username:
                smtp.close()
                raise RelayPermanentError(
                    f"the relay {self.relay.host}:{self.relay.port} offers no STARTTLS; "
                    "credentials are never sent in clear text")
            if self.relay.username:
                smtp.login(self.relay.username, self.relay.password or "")
            return smtp
        except smtplib.SMTPAuthenticationError as exc:
            raise RelayPermanentError(f"the relay refused the login ({exc.smtp_code}); check "
                                      "KS1BOT_MAIL_RELAY_USERNAME and KS1BOT_MAIL_RELAY_PASSWORD") from exc
        except smtplib.SMTPResponseException as exc:
            raise _error(exc.smtp_code, str(exc.smtp_error)) from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise RelayTemporaryError(f"cannot reach the relay {self.relay.host}:{self.relay.port} ({exc})") from exc

    def close(self) -> None:
        """Close every thread's connection (the gateway stops)."""
        with self._lock:
            connections, self._open = self._open, []
        for smtp in connections:
            try:
                smtp.close()
            except Exception:
                pass

    def _drop(self) -> None:
        smtp = self._smtp
        if smtp is not None:
            try:
                smtp.close()
            except Exception:
                pass
            with self._lock:
                if smtp in self._open:
                    self._open.remove(smtp)
            self._local.smtp = None

    def send(self, envelope_from: str, recipient: str, data: bytes, message_id: str,
             mark_sending: MarkSending) -> None:
        """Deliver over this thread's connection (opened when there is none, opened again
        once when the relay closed an idle one)."""
        for attempt in (1, 2):
            fresh = self._smtp is None
            if fresh:
                self._smtp = self._connect()
            try:
                self._transaction(self._smtp, envelope_from, recipient, data, mark_sending)
                return
            except _Stale:
                self._drop()
                if fresh or attempt == 2:
                    raise RelayTemporaryError(f"the relay {self.relay.host}:{self.relay.port} closed the connection")
            except Exception:
                self._drop()
                raise

    def _transaction(self, smtp: smtplib.SMTP, envelope_from: str, recipient: str, data: bytes,
                     mark_sending: MarkSending) -> None:
        options: list = []
        if not (envelope_from + recipient).isascii():  # an internationalised address (RFC 6531)
            if not smtp.has_extn("smtputf8"):
                raise RelayPermanentError(f"the address {recipient} has non-ASCII characters and the relay "
                                          f"{self.relay.host}:{self.relay.port} does not offer SMTPUTF8")
            options = ["SMTPUTF8"] + (["BODY=8BITMIME"] if smtp.has_extn("8bitmime") else [])
        try:
            code, text = smtp.mail(envelope_from, options)
        except (smtplib.SMTPServerDisconnected, ConnectionError, socket.timeout):
            raise _Stale() from None
        finally:
            smtp.command_encoding = "ascii" if not options else "utf-8"
        try:
            if code != 250:
                raise _error(code, text.decode("utf-8", "replace"))
            code, text = smtp.rcpt(recipient)
            if code not in (250, 251):
                smtp.rset()
                raise _error(code, text.decode("utf-8", "replace"))
            code, text = smtp.docmd("DATA")
            if code != 354:
                smtp.rset()
                raise _error(code, text.decode("utf-8", "replace"))
            smtp.send(dot_stuff(data))
        except (OSError, smtplib.SMTPException) as exc:
            raise RelayTemporaryError(f"sending to the relay failed before the end of the mail ({exc})") from exc
        mark_sending()
        try:
            smtp.send(b".\r\n")
            code, text = smtp.getreply()
        except (OSError, smtplib.SMTPException) as exc:
            raise RelayUnconfirmed(f"the relay did not confirm the mail ({exc}); it may have gone out") from exc
        if code != 250:
            raise _error(code, text.decode("utf-8", "replace"))
        smtp.command_encoding = "ascii"


class _Stale(Exception):
    """The reused connection was closed by the relay before anything was sent."""
