"""Staff replies and hand-backs of email conversations: from the outbox (written by the
staff console) to the customer, in the mail gateway's own process.

A staff reply is composed as a threaded answer to the customer's latest mail of the
thread (In-Reply-To, References, "Re:" subject, the staff member's name in From, no
Auto-Submitted, the files staff attached as MIME attachments) and handed to the mail queue, whose sender delivers it exactly once like
the bot's own replies. Its Message-ID is derived from the outbox row, so handing the same
row over again after a crash finds the queued mail instead of queueing a second one.
The mail's fate (sent, or failed/unconfirmed after the retries) goes back to the outbox,
where the console shows it.

A hand-back needs no mail: the thread is with the bot again as soon as the conversation
record says so (the bot answers the customer's next mail); the row is marked done.
"""
from __future__ import annotations

import datetime as dt
import logging
import threading
from typing import Callable, List, Optional, Tuple

from ks1bot.conversations.attachments import Attachments
from ks1bot.conversations.outbox import Outbox, OutboxItem
from ks1bot.core import logs
from mail_gateway.compose import ReplyTo, compose_reply, staff_message_id, to_bytes
from mail_gateway.config import MailConfig
from mail_gateway.parsing import parse_mail
from mail_gateway.store import MailStore, NewOutbound, worker_id, write_atomic

log = logging.getLogger("mail_gateway.staff_replies")
CHANNEL = "email"


class NoThread(Exception):
    """The mail queue has no mail of the conversation to answer."""


class StaffReplies:
    def __init__(self, outbox: Outbox, store: MailStore, config: MailConfig, *,
                 wake_sending: Callable[[], None] = lambda: None, files: Optional[Attachments] = None) -> None:
        self.outbox = outbox
        #: The conversation record's files (staff attachments); None: replies go without.
        self.outbox_files = files
        self.store = store
        self.config = config
        self.wake_sending = wake_sending
        self.me = worker_id()

    # -- from the outbox into the mail queue ------------------------------------------
    def take_next(self) -> bool:
        """Handle one due outbox row; False when there was none."""
        item = self.outbox.claim(CHANNEL, self.me)
        if item is None:
            return False
        if item.kind == "hand_back":
            self.outbox.delivered(item.id)
            logs.event(log, "thread_handed_back", conversation_id=item.conversation_id, handoff_id=item.handoff_id)
            return True
        try:
            message_id = self.queue_reply(item)
        except NoThread as exc:
            self.outbox.failed(item.id, str(exc))
            return True
        except Exception as exc:  # the disk, the queue database: try again later
            self.outbox.retry_later(item.id, f"{type(exc).__name__}: {exc}", self.config.options.send_attempts,
                                    dt.timedelta(seconds=self.config.options.retry_seconds))
            return True
        self.outbox.handed_over(item.id, message_id)
        logs.event(log, "staff_reply_queued", message_id=message_id, conversation_id=item.conversation_id,
                   handoff_id=item.handoff_id, staff=item.staff_name)
        self.wake_sending()
        return True

    def queue_reply(self, item: OutboxItem) -> str:
        """Compose the reply and queue it (once per outbox row); returns its Message-ID."""
        message_id = staff_message_id(item.id, item.conversation_id, item.created_at, self.config.message_id_domain)
        if self.store.outbound(message_id) is not None:
            return message_id  # queued before a crash: the same mail, not a second one
        latest = self.store.latest_inbound(item.conversation_id)
        if latest is None:
            raise NoThread(f"no mail of the conversation {item.conversation_id} in the mail queue to answer")
        parent = parse_mail(self.store.directory.joinpath(latest["raw_path"]).read_bytes(), latest["envelope_sender"],
                            headers_only=True)
        if not parent.reply_address:
            raise NoThread(f"the mail of the conversation {item.conversation_id} has no address to answer")
        language = latest["language"] or item.language
        staff = item.staff_name or "KS1-Support"
        msg = compose_reply(ReplyTo(parent.message_id, parent.references, parent.subject, parent.reply_address),
                            item.text, language=language, from_address=self.config.from_address,
                            from_name=f"{staff} – {self.config.from_name}", message_id=message_id,
                            date=dt.datetime.now(dt.timezone.utc), automatic=False,
                            attachments=self.attachments_of(item))
        path = self.store.replies_dir / (message_id.strip("<>") + ".eml")
        write_atomic(path, to_bytes(msg))
        self.store.add_outbound(NewOutbound(message_id=message_id, conversation_id=item.conversation_id,
                                            kind="staff_reply", recipient=parent.reply_address,
                                            subject=str(msg["Subject"]), text=item.text, language=language,
                                            eml_path=str(path.relative_to(self.store.directory)), staff_name=staff))
        return message_id

    def attachments_of(self, item: OutboxItem) -> List[Tuple[str, str, bytes]]:
        """The files staff attached to the reply (from the conversation record)."""
        files = self.outbox_files
        if files is None:
            return []
        return [(f.filename, f.content_type, files.read(f)) for f in files.for_outbox(item.id) if f.stored]

    # -- the mail's fate back into the outbox ----------------------------------------
    def report(self) -> None:
        """Tell the outbox what became of the staff replies the mail queue holds."""
        for item in self.outbox.in_flight(CHANNEL):
            row = self.store.outbound(item.reference or "")
            if row is None:
                self.outbox.failed(item.id, f"the mail queue has no reply {item.reference} (its data was lost)")
            elif row["state"] == "sent":
                self.outbox.delivered(item.id, f"email to {row['recipient']}, {item.reference}")
            elif row["state"] == "unconfirmed":
                self.outbox.failed(item.id, f"unconfirmed: {row['last_error']}")
            elif row["state"] == "failed":
                self.outbox.failed(item.id, row["last_error"] or "the relay refused it")
            else:
                self.outbox.note_retry(item.id, row["last_error"])

    def run(self, stop: threading.Event, poll_seconds: float = 0.5) -> None:
        while not stop.is_set():
            try:
                busy = self.take_next()
                self.report()
            except Exception as exc:  # the conversation database is down: the rows wait
                logs.event(log, "staff_replies_error", logging.ERROR, error=repr(exc))
                busy = False
                stop.wait(2.0)
            if not busy:
                stop.wait(poll_seconds)
