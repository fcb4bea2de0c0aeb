"""Fixtures of the email channel tests: real servers on loopback, started here.

- `dovecot`: a throwaway Dovecot IMAP server (Debian's dovecot-imapd; installed by
  scripts/install_system_deps.sh) with one user and a maildir in a temp directory;
- `sink`: an aiosmtpd server collecting what the gateway sends (the relay);
- `gateway`: a factory for a running MailGateway (SMTP listener on a free port), with
  the stub router (fast) or the trained model (`router` from tests/conftest.py), and a
  conversation record (handoff store and outbox) of its own.
The servers and the stub router are in tests/support/.
"""
from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from tests.support.mail_servers import Dovecot, SmtpSink, dovecot_available  # noqa: E402
from tests.support.ports import free_port  # noqa: E402


@pytest.fixture(scope="session")
def mail_settings(settings):
    """The repository's settings with quick retries and no warm-up."""
    mail = dataclasses.replace(settings.mail, retry_seconds=0.2, warm_up=False, poll_seconds=1.0)
    return dataclasses.replace(settings, mail=mail)


@pytest.fixture(scope="session")
def stub_router(settings):
    from tests.support import stub_router as stub

    return stub.build(settings, settings.customers)


@pytest.fixture
def sink():
    server = SmtpSink().start()
    yield server
    server.stop()


def _need_dovecot():
    reason = dovecot_available()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.fixture
def dovecot():
    _need_dovecot()
    server = Dovecot().start()
    yield server
    server.stop()


@pytest.fixture
def dovecot_tls():
    _need_dovecot()
    server = Dovecot(tls=True).start()
    yield server
    server.stop()


@pytest.fixture
def gateway(mail_settings, tmp_path):
    """gateway(router, relay=sink_or_port, imap=url, **mail_options) → a started MailGateway."""
    from ks1bot.app import wiring
    from mail_gateway.config import resolve, with_options
    from mail_gateway.gateway import MailGateway

    started = []

    def start(router, *, relay=None, imap=None, smtp=True, data_dir=None, **options):
        port = relay.port if hasattr(relay, "port") else relay
        directory = Path(data_dir or tmp_path / "data")
        config = resolve(mail_settings, smtp_listen=f"127.0.0.1:{free_port()}" if smtp else None,
                         relay=f"127.0.0.1:{port}" if port else None, imap=imap,
                         data_dir=str(directory), env={})
        if options:
            config = with_options(config, **options)
        url = f"sqlite:///{directory / 'ks1bot.db'}"
        own = wiring.with_data_dir(mail_settings, directory)  # the conversation record's files there too
        gw = MailGateway(config, router, wiring.handoff_store(own, url), wiring.outbox(own, url))
        gw.start()
        started.append(gw)
        return gw

    yield start
    for gw in started:
        gw.stop()
