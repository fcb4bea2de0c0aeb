"""The inbound SMTP listener (aiosmtpd) with the stub router: accept and acknowledge
fast, reject what is not a mail, and give every bad input a stored outcome."""
from __future__ import annotations

import smtplib
import time

import pytest

import mail_samples as m
from mail_client import send


def outcomes(gw):
    return {r["message_id"]: (r["status"], r["reason"]) for r in gw.store.query("SELECT * FROM inbound")}


def test_accepts_enqueues_and_replies(gateway, sink, stub_router):
    gw = gateway(stub_router, relay=sink)
    code, _ = send(gw, m.plain("KS1 Fehler", "KS1 zeigt einen Fehler beim Buchen."))
    assert code == 250
    [received] = sink.wait_for(1)
    assert received.rcpt_tos == ["h.meier@musterhandel.example"]
    assert received.message["Subject"] == "Re: KS1 Fehler"


class SlowRouter:
    def __init__(self, router, seconds):
        self.router, self.seconds = router, seconds

    def route(self, message):
        time.sleep(self.seconds)
        return self.router.route(message)


def test_nothing_slow_inside_the_smtp_conversation(gateway, sink, stub_router):
    gw = gateway(SlowRouter(stub_router, 2.0), relay=sink)
    started = time.monotonic()
    assert send(gw, m.plain("KS1 Fehler", "Fehler beim Buchen"))[0] == 250
    assert time.monotonic() - started < 1.0
    assert sink.received == []
    assert len(sink.wait_for(1, timeout=10)) == 1


@pytest.mark.parametrize("raw", [b"this is not a mail\r\n", b"X-Only: header\r\n\r\nbody\r\n"],
                         ids=["no-header", "no-mail-header"])
def test_malformed_mail_is_rejected_with_5xx(gateway, stub_router, raw):
    gw = gateway(stub_router)
    code, text = send(gw, raw)
    assert code == 554 and b"Rejected" in text
    assert outcomes(gw) == {}


def test_too_large_for_the_listener_is_refused(gateway, stub_router):
    gw = gateway(stub_router, max_message_bytes=1_000_000)
    try:
        code, _ = send(gw, m.big(2_000_000))
    except smtplib.SMTPResponseException as exc:
        code = exc.smtp_code
    assert code == 552
    assert outcomes(gw) == {}


def test_bad_input_each_gets_a_stored_outcome(gateway, sink, stub_router):
    gw = gateway(stub_router, relay=sink)
    send(gw, m.broken_mime())
    send(gw, m.missing_from(), mail_from="k.nofrom@musterhandel.example")
    send(gw, m.missing_from().replace(b"nofrom-1", b"nofrom-2"), mail_from="")
    send(gw, m.eight_bit_headers())
    fifty = m.big(50 * 1024 * 1024)
    assert 49 * 1024 * 1024 < len(fifty) <= 50 * 1024 * 1024
    assert send(gw, fifty)[0] == 250
    assert gw.wait_idle(90)
    got = outcomes(gw)
    assert got["<broken-1@musterhandel.example>"][0] == "processed"
    # no From: a person may have written it, but it is not answered automatically (RFC 3834): staff get it
    assert got["<nofrom-1@musterhandel.example>"] == ("processed", "no_auto_reply:missing_from")
    assert got["<nofrom-2@musterhandel.example>"] == ("ignored", "auto_generated:bounce")  # null sender
    assert got["<8bit-1@musterhandel.example>"][0] == "processed"
    assert got["<big-1@musterhandel.example>"][0] == "processed"
    to = sorted(r.rcpt_tos[0] for r in sink.wait_for(3))
    assert "k.nofrom@musterhandel.example" not in to and len(to) == 3
    assert any(h.conversation_id == "<nofrom-1@musterhandel.example>" for h in gw.handoffs.list())
    subjects = {r.message["Subject"] for r in sink.received}
    assert "Re: Fehler bei Größenangaben in KS1" in subjects


def test_mail_bomb_is_rate_limited_and_nothing_is_lost(gateway, sink, stub_router):
    gw = gateway(stub_router, relay=sink)
    host, port = gw.config.smtp_listen
    started = time.monotonic()
    with smtplib.SMTP(host, port, timeout=30) as client:
        for i in range(1000):
            raw = m.plain(f"Frage {i}", "Bitte um Rückruf.", sender="bomb@musterhandel.example",
                          message_id=f"<bomb-{i}@musterhandel.example>")
            client.sendmail("bomb@musterhandel.example", ["support@ks1-support.example"], raw)
    assert time.monotonic() - started < 60
    assert send(gw, m.plain("Frage", "Bitte um Rückruf.", sender="other@musterhandel.example",
                            message_id="<after-bomb@musterhandel.example>"))[0] == 250
    assert gw.wait_idle(120)
    rows = gw.store.query("SELECT status, reason, COUNT(*) AS n FROM inbound GROUP BY status, reason")
    counts = {(r["status"], r["reason"]): r["n"] for r in rows}
    assert counts[("ignored", "sender_rate_limit")] == 990
    assert sum(counts.values()) == 1001
    replies = sink.wait_for(11)
    assert sorted(r.rcpt_tos[0] for r in replies).count("bomb@musterhandel.example") == 10
    assert "other@musterhandel.example" in {r.rcpt_tos[0] for r in replies}


def test_same_message_twice_is_stored_once(gateway, sink, stub_router):
    gw = gateway(stub_router, relay=sink)
    raw = m.plain("KS1 Fehler", "Fehler beim Buchen", message_id="<twice@musterhandel.example>")
    send(gw, raw)
    send(gw, raw)
    assert gw.wait_idle(30)
    assert len(gw.store.query("SELECT * FROM inbound")) == 1
    time.sleep(0.3)
    assert len(sink.received) == 1


def test_message_data_arrives_byte_for_byte(gateway, stub_router):
    # the listener reads DATA in large pieces: end of data, dot-stuffing, bare dots and long lines as RFC 5321 says
    gw = gateway(stub_router)
    body = (b"Zeile mit Punkt am Ende.\r\n.\r\n" + b".beginnt mit Punkt\r\n..zwei Punkte\r\n" + b"x" * 70_000
            + b"\r\nletzte Zeile.")
    raw = (b"From: a@musterhandel.example\r\nSubject: Punkte\r\nMessage-ID: <dots-1@musterhandel.example>\r\n\r\n"
           + body + b"\r\n")
    host, port = gw.config.smtp_listen
    with smtplib.SMTP(host, port, timeout=30) as client:   # smtplib dot-stuffs as a sending server does
        client.sendmail("a@musterhandel.example", ["support@ks1-support.example"], raw)
        client.sendmail("a@musterhandel.example", ["support@ks1-support.example"],
                        b"From: a@musterhandel.example\r\nMessage-ID: <one-line@x>\r\n\r\nnur eine Zeile")
    stored = {r["message_id"]: (gw.store.directory / r["raw_path"]).read_bytes()
              for r in gw.store.query("SELECT * FROM inbound")}
    assert stored["<dots-1@musterhandel.example>"].endswith(raw)
    assert stored["<one-line@x>"].endswith(b"\r\n\r\nnur eine Zeile\r\n")
