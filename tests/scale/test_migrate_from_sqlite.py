"""`ks1bot db migrate-from-sqlite --to postgresql://…`: a SQLite installation (handoffs
and staff accounts, the mail queue, Rasa's trackers) is copied into PostgreSQL, where the
bot reads it and writes on (the id sequences continue after the copied rows)."""
from __future__ import annotations

import asyncio
import subprocess
import sys
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.support.mail_servers import SmtpSink

pytestmark = pytest.mark.scale


def sample(n: int) -> bytes:
    msg = EmailMessage(policy=SMTP)
    msg["From"] = f"kunde{n}@musterhandel.example"
    msg["To"] = "support@ks1-support.example"
    msg["Subject"] = f"KS1 Fehler {n}"
    msg["Message-ID"] = f"<migrate-{n}@musterhandel.example>"
    msg.set_content(f"KS1 zeigt Fehler {n} beim Buchen.")
    return msg.as_bytes()


def make_sqlite_installation(settings, data):
    """A bot that ran on SQLite: three mails answered (handoffs), a staff account, a chat."""
    import dataclasses

    from rasa.core.tracker_store import SQLTrackerStore
    from rasa.shared.core.events import ActionExecuted, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    from ks1bot.app import wiring
    from mail_gateway.config import resolve
    from mail_gateway.gateway import MailGateway
    from tests.support import stub_router

    mail = dataclasses.replace(settings.mail, warm_up=False, retry_seconds=0.2)
    own = wiring.with_data_dir(dataclasses.replace(settings, mail=mail), data)
    sink = SmtpSink().start()
    config = resolve(own, relay=f"127.0.0.1:{sink.port}", data_dir=str(data), env={})
    url = f"sqlite:///{data / 'ks1bot.db'}"
    gateway = MailGateway(config, stub_router.build(own, None), wiring.handoff_store(own, url), wiring.outbox(own, url))
    gateway.start()
    try:
        for n in range(3):
            gateway.store.enqueue(sample(n), "smtp")
        gateway.worker.wake_processing.set()
        assert gateway.wait_idle(60)
    finally:
        gateway.stop()
        sink.stop()
    wiring.staff_accounts(own, url).add_staff("anna", "correct horse battery staple 42")
    trackers = SQLTrackerStore(dialect="sqlite", db=str(data / "rasa_tracker.db"))
    tracker = DialogueStateTracker("chat-1", slots=[])
    tracker.update(ActionExecuted("action_listen"))
    tracker.update(UserUttered("Guten Tag", {"name": "greeting", "confidence": 1.0}))
    asyncio.run(trackers.save(tracker))
    trackers.engine.dispose()


def test_a_sqlite_installation_moves_to_postgresql_and_the_bot_writes_on(pg, settings, tmp_path):
    from rasa.core.tracker_store import SQLTrackerStore
    from rasa.shared.core.events import UserUttered
    from sqlalchemy.engine import make_url

    from ks1bot.app import wiring
    from mail_gateway.store import MailStore

    data = tmp_path / "var"
    make_sqlite_installation(settings, data)
    target = pg.database()
    command = [str(Path(sys.executable).with_name("ks1bot")), "db", "migrate-from-sqlite", "--to", target,
               "--data-dir", str(data)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Copied" in done.stdout and "handoffs 3" in done.stdout and "inbound 3" in done.stdout

    own = wiring.with_data_dir(settings, data)
    handoffs = wiring.handoff_store(own, target)
    assert len(handoffs.list()) == 3
    queue = MailStore(data / "mail", url=target)
    assert queue.summary()["inbound"]["processed"] == 3 and queue.summary()["replies"]["sent"] == 3
    assert queue.enqueue(sample(9), "smtp").id == 4                       # the id sequence continues
    session, _why = wiring.staff_accounts(own, target).login("anna", "correct horse battery staple 42", "127.0.0.1")
    assert session is not None                                            # the staff account came along

    url = make_url(target)
    trackers = SQLTrackerStore(dialect="postgresql", host=url.host, port=url.port, db=url.database,
                               username=url.username)
    tracker = asyncio.run(trackers.retrieve("chat-1"))
    assert [e.text for e in tracker.events if isinstance(e, UserUttered)] == ["Guten Tag"]
    tracker.update(UserUttered("Noch eine Frage", {"name": "greeting", "confidence": 1.0}))
    asyncio.run(trackers.save(tracker))                                    # Rasa's events_seq continues
    trackers.engine.dispose()

    again = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert again.returncode == 2 and "already holds rows" in again.stderr   # nothing is merged
