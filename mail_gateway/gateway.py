"""The mail gateway wired together: durable queue, SMTP listener, IMAP poller, the
processing and sending loops. `start()/stop()`; every part is injectable."""
from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from typing import Callable, List, Optional

from ks1bot import logs
from mail_gateway.config import MailConfig
from mail_gateway.crash import CrashPoints
from mail_gateway.imap_intake import ImapPoller
from mail_gateway.sender import OutboxSender, RelaySender, Sender
from mail_gateway.smtp_intake import IntakeHandler, SmtpIntake
from mail_gateway.store import InboundRow, MailStore, Outcome
from mail_gateway.worker import Worker

log = logging.getLogger("mail_gateway")

WARM_UP_TEXTS = (
    ("Frage", "Hallo, wie bekomme ich das neue KS1 Update?"),
    ("KS1 Fehler beim Buchen", "Guten Tag, beim Buchen eines Lieferscheins erscheint in KS1 eine Fehlermeldung "
     "und das Programm schließt sich. Das passiert seit heute Morgen bei allen Kollegen."),
    ("Printer", "Our printer in the warehouse prints blank pages, can you help?"),
    ("Support hours", "When is your support available and what does our contract cover? Thanks"),
    ("Danke", "Vielen Dank, hat funktioniert."),
    ("VPN", "Seit dem Windows Update funktioniert unser VPN nicht mehr, wir können uns nicht verbinden, "
     "bitte helfen Sie uns schnell, der Server ist nicht erreichbar und die Firewall blockiert alles."),
)


def build_sender(config: MailConfig) -> Sender:
    if config.relay is not None:
        return RelaySender(config.relay, ca_file=config.options.ca_file)
    return OutboxSender(config.outbox_dir)


def warm_up(router, rounds: int = 3) -> float:
    """Route sample mails so the model's first real call is not slow; returns seconds."""
    from ks1bot.messages import InboundMessage

    started = time.monotonic()
    now = dt.datetime.now(dt.timezone.utc)
    for i in range(rounds):
        for n, (subject, text) in enumerate(WARM_UP_TEXTS):
            router.route(InboundMessage(id=f"warm-up-{i}-{n}", channel="email", received_at=now,
                                        sender="warm-up@example.invalid", subject=subject, text=text * (i + 1)))
    return time.monotonic() - started


class MailGateway:
    def __init__(
        self,
        config: MailConfig,
        router,
        *,
        store: Optional[MailStore] = None,
        sender: Optional[Sender] = None,
        crash: Optional[Callable[..., None]] = None,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.timezone.utc),
        imap_client_factory=None,
        senders: int = 1,
        handoffs=None,
    ) -> None:
        self.config = config
        self.store = store or MailStore(config.mail_dir)
        self.sender = sender or build_sender(config)
        self.crash = crash or CrashPoints()
        on_handoff = None
        if handoffs is not None:
            from console.intake import email_handoff_recorder

            on_handoff = email_handoff_recorder(handoffs)
        self.worker = Worker(self.store, router, config, self.sender, clock=clock, crash=self.crash,
                             on_outcome=self._outcome_stored, on_handoff=on_handoff)
        self.smtp: Optional[SmtpIntake] = None
        if config.smtp_listen:
            handler = IntakeHandler(self.store, on_enqueued=self.worker.wake_processing.set, crash=self.crash)
            self.smtp = SmtpIntake(handler, config.smtp_listen[0], config.smtp_listen[1],
                                   config.options.max_message_bytes)
        self.imap: Optional[ImapPoller] = None
        if config.imap:
            kwargs = {"client_factory": imap_client_factory} if imap_client_factory else {}
            self.imap = ImapPoller(config.imap, self.store, config.options, on_enqueued=self.worker.wake_processing.set,
                                   crash=self.crash, **kwargs)
        self._senders = senders
        self._stop = threading.Event()
        self._threads: List[threading.Thread] = []

    def _outcome_stored(self, row: InboundRow, outcome: Outcome) -> None:
        if row.source == "imap" and self.imap is not None:
            self.imap.wake()

    def start(self) -> None:
        recovered = self.store.recover(self.worker.me)
        logs.event(log, "gateway_starting", data_dir=str(self.config.data_dir), **recovered,
                   smtp=f"{self.config.smtp_listen[0]}:{self.config.smtp_listen[1]}" if self.config.smtp_listen else None,
                   imap=self.config.imap.describe() if self.config.imap else None,
                   relay=f"{self.config.relay.host}:{self.config.relay.port}" if self.config.relay else None,
                   outbox=None if self.config.relay else str(self.config.outbox_dir))
        self._stop.clear()
        self._threads = [threading.Thread(target=self.worker.run_processing, args=(self._stop,), name="mail-worker",
                                          daemon=True)]
        self._threads += [threading.Thread(target=self.worker.run_sending, args=(self._stop,), name=f"mail-sender-{i}",
                                           daemon=True) for i in range(self._senders)]
        for thread in self._threads:
            thread.start()
        if self.smtp:
            self.smtp.start()
        if self.imap:
            self.imap.start()

    def stop(self) -> None:
        if self.smtp:
            self.smtp.stop()
        if self.imap:
            self.imap.stop()
        self._stop.set()
        self.worker.wake_processing.set()
        self.worker.wake_sending.set()
        for thread in self._threads:
            thread.join(30)
        self.sender.close()
        logs.event(log, "gateway_stopped")

    def idle(self) -> bool:
        """Nothing queued, nothing being processed, no reply due (tests, benchmarks)."""
        s = self.store.summary()
        return s["queue_depth"] == 0 and s["replies"]["pending"] == 0 and s["replies"]["sending"] == 0

    def wait_idle(self, timeout: float = 60.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.idle():
                return True
            time.sleep(0.05)
        return False
