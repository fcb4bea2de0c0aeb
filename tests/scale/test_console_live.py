"""The staff console on PostgreSQL shows, live, handoffs that any process created: two
gateway workers open handoffs; two console processes (ks1bot serve --role console
--workers 2) show them — the queue page's event stream and the list — and a staff
session made on one console process holds on the other (sessions are in the database)."""
from __future__ import annotations

import os
import threading
import urllib.request

import pytest
import requests

from tests.conftest import LIVE_SECRETS
from tests.scale.conftest import Workers, wait_until
from tests.scale.test_mail_workers import mail
from tests.scale.test_rasa_processes import Role
from tests.support.ports import free_port

pytestmark = [pytest.mark.scale, pytest.mark.slow]
PASSWORD = "correct horse battery staple 42"


def login(base: str) -> requests.Session:
    session = requests.Session()
    page = session.get(f"{base}/console/login", timeout=30)
    token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    response = session.post(f"{base}/console/login", data={"name": "anna", "password": PASSWORD, "csrf_token": token},
                            timeout=30)
    assert response.status_code == 200 and "Übergaben" in response.text, response.text[:300]
    return session


def test_the_console_shows_handoffs_from_every_process_live(pg, sink, settings, tmp_path):
    from ks1bot.app import wiring

    workers = Workers(tmp_path, pg.database(), settings, sink.port)
    port = free_port()
    env = {**os.environ, **LIVE_SECRETS, "KS1BOT_DATABASE_URL": workers.database_url}
    consoles = Role(tmp_path, "console", ["--workers", "2", "--console-port", str(port)], env)
    try:
        consoles.wait_up(180)
        wiring.staff_accounts(settings.with_overrides(data_dir=workers.data), url=workers.database_url) \
            .add_staff("anna", PASSWORD)
        first, second = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port + 1}"
        session = login(first)
        seen, connected = [], threading.Event()

        def listen() -> None:
            with session.get(f"{first}/console/events", stream=True, timeout=120) as stream:
                for line in stream.iter_lines(decode_unicode=True):
                    connected.set()
                    if line and line.startswith("id: "):
                        seen.append(int(line[4:]))
                        if len(seen) >= 4:
                            return

        listener = threading.Thread(target=listen, daemon=True)
        listener.start()
        assert connected.wait(30)
        for number in range(2):
            workers.start(number)
        for n in range(4):                               # two mails through each worker
            assert workers.submit(mail(n, "console"), f"kunde{n}@musterhandel.example", first=n % 2) == n % 2
        listener.join(90)
        assert len(seen) == 4                            # pushed live to the open queue page
        listed = session.get(f"{second}/console/api/handoffs", timeout=30)   # the same session, the other process
        assert listed.status_code == 200 and sorted(h["id"] for h in listed.json()) == sorted(seen)
        for base in (first, second):
            with urllib.request.urlopen(f"{base}/readyz", timeout=30) as response:
                assert response.status == 200
        with urllib.request.urlopen(f"{second}/metrics", timeout=30) as response:
            text = response.read().decode()
        assert 'ks1bot_handoffs_open{channel="email"} 4' in text
    finally:
        workers.stop()
        consoles.stop()
