"""The mail gateway wired together: durable queue, SMTP listener, IMAP poller, the
processing and sending loops, and the staff replies from the outbox. `start()/stop()`;
every part is injectable (the Router and the conversation record are built by
ks1bot.app.wiring; tests inject their own, and crash points)."""
from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from typing import Callable, List, Optional

from ks1bot.conversations.outbox import Outbox
from ks1bot.conversations.store import HandoffStore
from ks1bot.core import logs
from ks1bot.core.messages import InboundMessage
from mail_gateway.config import MailConfig
from mail_gateway.handoffs import EmailHandoffs
from mail_gateway.imap_intake import ImapPoller
from mail_gateway.retention import RetentionJob, retention_cleanup
from mail_gateway.sender import OutboxSender, RelaySender, Sender
from mail_gateway.smtp_intake import IntakeHandler, SmtpIntake
from mail_gateway.staff_replies import StaffReplies
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
        handoffs: HandoffStore,
        outbox: Outbox,
        *,
        store: Optional[MailStore] = None,
        sender: Optional[Sender] = None,
        crash: Callable[..., None] = lambda step, **_ids: None,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.timezone.utc),
        imap_client_factory=None,
        senders: Optional[int] = None,
        health=None,
    ) -> None:
        """`handoffs`/`outbox`: the conversation record (which threads are with staff;
        the staff replies to send). `crash(step, **ids)` is called at each named step of
        a mail's way (after_fetch, after_enqueue, after_claim, after_route, after_store,
        after_relay_accept, after_sent, after_move): the exactly-once test injects a
        function that kills the process there."""
        self.config = config
        self.store = store or MailStore(config.mail_dir, url=config.database_url,
                                        lease_seconds=config.options.lease_seconds)
        self.sender = sender or build_sender(config)
        self.crash = crash
        self.handoffs = handoffs
        self.worker = Worker(self.store, router, config, self.sender, EmailHandoffs(handoffs), clock=clock,
                             crash=self.crash, on_outcome=self._outcome_stored)
        self.staff_replies = StaffReplies(outbox, self.store, config, wake_sending=self.worker.wake_sending.set,
                                          files=handoffs.files)
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
        #: Sender threads (each with its own relay connection): mail.relay_connections.
        self._senders = max(1, senders if senders is not None else config.options.relay_connections)
        files = handoffs.files
        self.retention = RetentionJob(lambda: retention_cleanup(self.store, files, config.outbox_dir,
                                                                config.options.retention_days))
        self._stop = threading.Event()
        self._threads: List[threading.Thread] = []
        self._polling = False
        #: /healthz, /readyz, /metrics on config.http_listen: `health(host, port, role, checks)`
        #: makes the listener (start()/stop()); the entry point gives it (ks1bot.app.health).
        self.health = None
        if config.http_listen and health is not None:
            self.health = health(config.http_listen[0], config.http_listen[1], "mail", self.checks())
            self._register_gauges()

    # -- health and metrics ----------------------------------------------------------
    def checks(self):
        """Ready: the queue's and the conversation record's databases answer, the SMTP
        listener runs."""
        checks = {"queue": lambda: self.store.depth() is not None}
        engine = getattr(self.handoffs, "engine", None)
        if engine is not None:
            from ks1bot.conversations.db import answers

            checks["database"] = lambda: answers(engine)
        if self.smtp is not None:
            checks["smtp"] = lambda: self.smtp.running
        return checks

    def _register_gauges(self) -> None:
        from ks1bot.core import metrics

        def depth():
            count, _oldest = self.store.depth()
            return metrics.single(count)

        def oldest():
            _count, first = self.store.depth()
            return metrics.single(max(time.time() - first, 0.0) if first is not None else 0.0)

        metrics.REGISTRY.gauge("ks1bot_mail_queue_depth", "Mails queued or being processed.", depth)
        metrics.REGISTRY.gauge("ks1bot_mail_queue_oldest_age_seconds",
                               "Seconds since the oldest queued or processing mail arrived (0: none).", oldest)

    def _outcome_stored(self, row: InboundRow, outcome: Outcome) -> None:
        if row.source == "imap" and self.imap is not None:
            self.imap.wake()

    # -- several workers on one queue -------------------------------------------------
    @property
    def imap_lease(self) -> Optional[str]:
        """The lease that elects this mailbox's one poller among the workers."""
        return f"imap:{self.imap.key}" if self.imap is not None else None

    def polling(self) -> bool:
        """This worker is the elected IMAP poller."""
        return self._polling

    def _elect(self) -> None:
        """Take or keep the mailbox's lease; start the poller when won, stop it when lost."""
        if self.imap is None:
            return
        try:
            held = self.store.take_lease(self.imap_lease, self.worker.me)
        except Exception as exc:  # the database is away: poll nothing rather than twice
            logs.event(log, "imap_election_error", logging.ERROR, error=repr(exc))
            held = False
        if held and not self._polling:
            self.imap.start()
            self._polling = True
            logs.event(log, "imap_poller_elected", mailbox=self.imap.key, worker=self.worker.me)
        elif not held and self._polling:
            self.imap.stop()
            self._polling = False
            logs.event(log, "imap_poller_lost_lease", logging.WARNING, mailbox=self.imap.key)

    def _coordinate(self, stop: threading.Event) -> None:
        """Every third of a lease: renew this worker's leases, release what dead workers
        held, keep (or take over) the IMAP election."""
        interval = max(self.store.lease_seconds / 3, 0.2)
        while not stop.wait(interval):
            try:
                self.store.renew(self.worker.me)
                released = self.store.recover(self.worker.me)
                if released["requeued"] or released["unconfirmed"]:
                    logs.event(log, "released_dead_workers_mail", **released)
                    self.worker.wake_processing.set()
            except Exception as exc:
                logs.event(log, "coordination_error", logging.ERROR, error=repr(exc))
            self._elect()
            try:
                if self._polling and self.imap.moves_waiting():
                    self.imap.wake()
            except Exception as exc:
                logs.event(log, "coordination_error", logging.ERROR, error=repr(exc))

    def start(self) -> None:
        recovered = self.store.recover(self.worker.me)
        recovered["unconfirmed_to_staff"] = self.worker.hand_over_unconfirmed()
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
        self._threads.append(threading.Thread(target=self.staff_replies.run, args=(self._stop,),
                                              name="mail-staff-replies", daemon=True))
        self._threads.append(threading.Thread(target=self.retention.loop, args=(self._stop,), name="mail-retention",
                                              daemon=True))
        self._threads.append(threading.Thread(target=self._coordinate, args=(self._stop,), name="mail-leases",
                                              daemon=True))
        for thread in self._threads:
            thread.start()
        if self.smtp:
            self.smtp.start()
        self._elect()
        if self.health is not None:
            self.health.start()

    def stop(self) -> None:
        if self.health is not None:
            self.health.stop()
        if self.smtp:
            self.smtp.stop()
        if self.imap and self._polling:
            self.imap.stop()
            self._polling = False
            try:
                self.store.release_lease(self.imap_lease, self.worker.me)
            except Exception as exc:
                logs.event(log, "imap_lease_not_released", logging.WARNING, error=repr(exc))
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
