"""IMAP intake against a real Dovecot on loopback (stub router: the mechanics, not the
model): IDLE, move after the outcome is stored, folders created, UIDVALIDITY, a
connection dropped during IDLE, TLS, and polling when the server has no IDLE."""
from __future__ import annotations

import time

import pytest

import mail_samples as m

pytestmark = pytest.mark.slow
PROCESSED = "KS1-Bot.Processed"  # Dovecot's maildir hierarchy separator is "."


def wait_until(check, timeout=20.0, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(step)
    return False


def test_idle_fetch_reply_and_move(gateway, dovecot, sink, stub_router):
    gw = gateway(stub_router, relay=sink, imap=dovecot.url(), smtp=False)
    assert wait_until(gw.imap.connected.is_set)
    assert gw.imap.idle_supported
    assert PROCESSED in dovecot.folders() and "KS1-Bot.Failed" in dovecot.folders()
    started = time.monotonic()
    dovecot.append(m.plain("KS1 Fehler", "KS1 zeigt einen Fehler beim Buchen.", message_id="<imap-1@x>"))
    dovecot.append(m.out_of_office())
    [reply] = sink.wait_for(1, timeout=10)
    assert time.monotonic() - started < 3  # IDLE, not the 1 s poll
    assert reply.message["In-Reply-To"] == "<imap-1@x>"
    assert wait_until(lambda: dovecot.count(PROCESSED) == 2 and dovecot.count("INBOX") == 0)
    rows = {r["message_id"]: r for r in gw.store.query("SELECT * FROM inbound")}
    assert rows["<imap-1@x>"]["status"] == "processed" and rows["<imap-1@x>"]["imap_moved"] == 1
    assert rows["<ooo-1@musterhandel.example>"]["reason"] == "auto_generated:out_of_office"
    time.sleep(0.5)
    assert len(sink.received) == 1


def test_uidvalidity_is_remembered(gateway, dovecot, sink, stub_router, tmp_path):
    data = tmp_path / "d"
    gw = gateway(stub_router, relay=sink, imap=dovecot.url(), smtp=False, data_dir=data)
    assert wait_until(gw.imap.connected.is_set)
    key = f"imap_uidvalidity:{gw.imap.key}"
    first = gw.store.state_get(key)
    assert first and int(first) > 0
    gw.store.state_set(key, "1")  # as if the mailbox had been recreated meanwhile
    gw.stop()
    gw2 = gateway(stub_router, relay=sink, imap=dovecot.url(), smtp=False, data_dir=data)
    assert wait_until(gw2.imap.connected.is_set)
    assert gw2.store.state_get(key) == first


def test_connection_dropped_during_idle(gateway, dovecot, sink, stub_router):
    gw = gateway(stub_router, relay=sink, imap=dovecot.url(), smtp=False)
    assert wait_until(gw.imap.connected.is_set)
    time.sleep(0.5)  # in IDLE now
    dovecot.kick()
    assert wait_until(lambda: gw.imap.sessions >= 2, timeout=15)
    dovecot.append(m.plain("KS1 Fehler", "Fehler nach dem Abbruch", message_id="<after-drop@x>"))
    [reply] = sink.wait_for(1, timeout=15)
    assert reply.message["In-Reply-To"] == "<after-drop@x>"
    assert wait_until(lambda: dovecot.count(PROCESSED) == 1)


def test_imaps_with_a_self_signed_certificate(gateway, dovecot_tls, sink, stub_router):
    gw = gateway(stub_router, relay=sink, imap=dovecot_tls.url(tls=True), smtp=False, ca_file=str(dovecot_tls.cert))
    assert wait_until(gw.imap.connected.is_set)
    import ssl

    from imapclient import IMAPClient

    context = ssl.create_default_context(cafile=str(dovecot_tls.cert))
    with IMAPClient("127.0.0.1", dovecot_tls.tls_port, ssl=True, ssl_context=context) as c:
        c.login(dovecot_tls.user, dovecot_tls.password)
        c.append("INBOX", m.plain("KS1 Fehler", "Fehler über TLS", message_id="<tls-1@x>"))
    [reply] = sink.wait_for(1, timeout=15)
    assert reply.message["In-Reply-To"] == "<tls-1@x>"


def test_polling_when_the_server_has_no_idle(gateway, dovecot, sink, stub_router):
    from imapclient import IMAPClient

    class NoIdle(IMAPClient):
        def has_capability(self, capability):
            return False if capability.upper() == "IDLE" else super().has_capability(capability)

    gw = gateway(stub_router, relay=sink, imap=dovecot.url(), smtp=False, poll_seconds=0.5)
    gw.stop()
    gw.imap.client_factory = NoIdle
    gw.start()
    assert wait_until(gw.imap.connected.is_set)
    assert gw.imap.idle_supported is False
    dovecot.append(m.plain("KS1 Fehler", "Fehler ohne IDLE", message_id="<poll-1@x>"))
    [reply] = sink.wait_for(1, timeout=10)
    assert reply.message["In-Reply-To"] == "<poll-1@x>"
