"""Nothing a customer sends ends in a log line or a `failed` row alone: a mail that
cannot be read, or whose routing, composing or storing fails, or that keeps stopping the
worker, becomes a handoff with the original attached, acknowledged where there is an
address that may be answered, and `ks1bot mail status` lists it."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import mail_samples as m
from mail_client import send

ROOT = Path(__file__).resolve().parents[2]


class BrokenRouter:
    """Routes like the stub router, except that mails whose text says BOOM raise."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.settings = inner.settings

    def route(self, message, *args, **kwargs):
        if "BOOM" in (message.text or ""):
            raise RuntimeError("the model server went away")
        return self.inner.route(message, *args, **kwargs)


def inbound(gw, message_id):
    [row] = gw.store.query("SELECT * FROM inbound WHERE message_id=?", (message_id,))
    return row


def handoff_of(gw, conversation_id):
    [h] = [h for h in gw.handoffs.list(channel="email") if h.conversation_id == conversation_id]
    return gw.handoffs.get(h.id)


def wait_until(predicate, timeout=90.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_a_mail_nobody_can_read_becomes_a_handoff_with_the_original(gateway, sink, stub_router, tmp_path):
    gw = gateway(stub_router, relay=sink, data_dir=tmp_path / "d")
    raw = b"\x00\x01 garbage that is no mail\r\nnot a header either\r\nnor this\r\n\r\nPlease help, KS1 is down\r\n"
    queued = gw.store.enqueue(raw, "imap")          # IMAP never refuses: whatever is in the mailbox
    gw.worker.wake_processing.set()
    assert gw.wait_idle(30)
    row = inbound(gw, queued.message_id)
    assert (row["status"], row["route"], row["reason"]) == ("processed", "handoff", "unparseable_mail")
    handoff = handoff_of(gw, queued.message_id)
    assert "unparseable_mail" in handoff.reasons and handoff.status == "open" and handoff.topic == "unclassified"
    assert "KS1 is down" in handoff.messages[0].text and "could not be read" in handoff.messages[0].text
    [original] = [f for f in handoff.attachments if f.filename == "original-mail.eml"]
    assert gw.handoffs.files.read(original) == raw
    assert sink.received == []                      # no address: nobody to acknowledge
    status = subprocess.run([str(Path(sys.executable).with_name("ks1bot")), "mail", "status", "--data-dir",
                             str(tmp_path / "d")], cwd=ROOT, capture_output=True, text=True, env=dict(os.environ))
    assert "Handed to staff because the gateway could not handle them (1" in status.stdout
    assert queued.message_id in status.stdout and "unparseable_mail" in status.stdout


def test_a_routing_failure_is_handed_to_staff_and_acknowledged(gateway, sink, stub_router):
    gw = gateway(BrokenRouter(stub_router), relay=sink)
    send(gw, m.plain("KS1 Fehler", "BOOM beim Buchen, siehe Anhang", message_id="<boom-1@musterhandel.example>"))
    [ack] = sink.wait_for(1)
    assert gw.wait_idle(30)
    row = inbound(gw, "<boom-1@musterhandel.example>")
    assert (row["status"], row["route"], row["reason"]) == ("processed", "handoff", "processing_error")
    assert "the model server went away" in row["last_error"]
    assert ack.rcpt_tos == ["h.meier@musterhandel.example"] and ack.message["In-Reply-To"] == "<boom-1@musterhandel.example>"
    assert "Mitarbeiter" in ack.message.get_body(("plain",)).get_content()
    handoff = handoff_of(gw, "<boom-1@musterhandel.example>")
    assert handoff.acknowledgement and "processing_error" in handoff.reasons
    assert [f.filename for f in handoff.attachments] == ["original-mail.eml"]


def test_a_composing_failure_still_reaches_staff(gateway, sink, stub_router, monkeypatch):
    import mail_gateway.worker as worker

    def broken(*args, **kwargs):
        raise ValueError("cannot compose")

    monkeypatch.setattr(worker, "compose_reply", broken)
    gw = gateway(stub_router, relay=sink)
    send(gw, m.plain("KS1 Fehler", "KS1 zeigt einen Fehler beim Buchen.", message_id="<compose-1@musterhandel.example>"))
    assert wait_until(lambda: gw.store.query("SELECT 1 FROM inbound WHERE status='processed'")) and gw.wait_idle(30)
    row = inbound(gw, "<compose-1@musterhandel.example>")
    assert (row["route"], row["reason"]) == ("handoff", "processing_error")
    decision = json.loads(row["decision_json"])
    assert "acknowledgement_failed" in decision["reasons"] and "cannot compose" in row["last_error"]
    assert handoff_of(gw, "<compose-1@musterhandel.example>").status == "open"


def test_a_mail_that_keeps_stopping_the_worker_is_handed_over_unread(gateway, sink, stub_router):
    gw = gateway(stub_router, relay=sink, smtp=False)
    gw.stop()  # the worker alone, driven by hand
    queued = gw.store.enqueue(m.with_attachment(1000, message_id="<crash-1@musterhandel.example>"), "smtp",
                              envelope_sender="h.meier@musterhandel.example")
    gw.store.query("UPDATE inbound SET attempts=3 WHERE id=?", (queued.id,))
    assert gw.worker.process_next()
    row = inbound(gw, "<crash-1@musterhandel.example>")
    assert (row["status"], row["route"], row["reason"]) == ("processed", "handoff", "processing_crashed")
    handoff = handoff_of(gw, "<crash-1@musterhandel.example>")
    # not read again: only the original is attached, the text says why
    assert [f.filename for f in handoff.attachments] == ["original-mail.eml"]
    assert "stopped the gateway" in handoff.messages[0].text
    assert gw.store.query("SELECT COUNT(*) AS n FROM outbound")[0]["n"] == 1  # acknowledged (header-only check)


def test_when_the_conversation_record_is_down_the_mail_waits(gateway, sink, stub_router, monkeypatch):
    gw = gateway(stub_router, relay=sink, smtp=False)
    gw.stop()
    gw.store.enqueue(m.plain("KS1 Fehler", "BOOM", message_id="<down-1@musterhandel.example>"), "smtp")
    gw.worker.router = BrokenRouter(stub_router)

    def down(*args, **kwargs):
        raise ConnectionError("database unavailable")

    monkeypatch.setattr(gw.handoffs, "create", down)
    try:
        gw.worker.process_next()
        raise AssertionError("expected the worker to give up on this round")
    except ConnectionError:
        pass
    row = inbound(gw, "<down-1@musterhandel.example>")
    assert row["status"] == "processing" and row["route"] is None      # not failed: taken again later
    monkeypatch.undo()
    gw.store.query("UPDATE inbound SET lease_until=0")                 # the lease runs out
    assert gw.worker.process_next()
    assert inbound(gw, "<down-1@musterhandel.example>")["reason"] == "processing_error"


def test_a_one_liner_above_a_forward_is_not_ignored_as_thanks(gateway, sink, stub_router):
    # the stub router reads "danke" as thanks-only: the worker must not swallow the forwarded request
    gw = gateway(stub_router, relay=sink)
    body = ("Danke!\n\n---------- Forwarded message ---------\nVon: Lager <lager@musterhandel.example>\n"
            "Datum: Di., 17. Nov. 2026 um 09:12 Uhr\nBetreff: Etiketten\nAn: <h.meier@musterhandel.example>\n\n"
            "Danke für die Lieferung, leider hängt KS1 beim Etikettendruck.\n")
    send(gw, m.plain("WG: Etiketten", body, message_id="<fwd-thanks@musterhandel.example>"))
    send(gw, m.plain("Danke", "Vielen Dank, hat funktioniert!", message_id="<thanks@musterhandel.example>",
                     sender="Eva Roth <e.roth@musterhandel.example>"))
    [ack] = sink.wait_for(1)
    assert gw.wait_idle(30)
    assert inbound(gw, "<thanks@musterhandel.example>")["route"] == "ignore"   # a bare thanks
    row = inbound(gw, "<fwd-thanks@musterhandel.example>")
    assert (row["route"], row["reason"]) == ("handoff", "not_only_thanks")
    assert ack.message["In-Reply-To"] == "<fwd-thanks@musterhandel.example>"
    assert "not_only_thanks" in handoff_of(gw, "<fwd-thanks@musterhandel.example>").reasons


def test_bare_thanks():
    from mail_gateway.parsing import parse_mail
    from mail_gateway.worker import bare_thanks

    assert bare_thanks(parse_mail(m.plain("Danke", "Vielen Dank, hat funktioniert!\n\nGruß Hans")))
    assert not bare_thanks(parse_mail(m.with_attachment(100)))
    forwarded = "Danke\n\n-------- Weitergeleitete Nachricht --------\nBetreff: x\n\nKS1 stürzt ab.\n"
    assert not bare_thanks(parse_mail(m.plain("WG: x", forwarded)))
    assert not bare_thanks(parse_mail(m.plain("Danke", "Danke. " + "Noch eine lange Frage zu KS1 " * 10)))


def test_an_internationalised_address_is_answered_over_smtputf8(gateway, sink, stub_router):
    gw = gateway(stub_router, relay=sink)
    raw = ("From: Jürgen <jürgen@bäckerei.example>\r\nTo: support@ks1-support.example\r\nSubject: KS1 Fehler\r\n"
           "Message-ID: <idn-1@bäckerei.example>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
           "KS1 zeigt einen Fehler beim Buchen.\r\n").encode("utf-8")
    send(gw, raw)
    [reply] = sink.wait_for(1)
    assert reply.rcpt_tos == ["jürgen@bäckerei.example"]


def test_a_reply_the_relay_refuses_for_good_goes_to_staff(gateway, stub_router):
    from aiosmtpd.controller import Controller

    class Refusing:
        async def handle_RCPT(self, server, session, envelope, address, options):
            return "550 5.1.1 no such user"

    from tests.support.ports import free_port

    port = free_port()
    relay = Controller(Refusing(), hostname="127.0.0.1", port=port)
    relay.start()
    try:
        gw = gateway(stub_router, relay=port, send_attempts=1)
        send(gw, m.plain("Frage", "Bitte um Rückruf zu KS1 Update.", message_id="<refused-1@musterhandel.example>"))
        assert wait_until(lambda: gw.store.query("SELECT 1 FROM outbound WHERE state='failed'"))
        assert wait_until(lambda: any(h.conversation_id == "<refused-1@musterhandel.example>"
                                      for h in gw.handoffs.list(channel="email")))
        # a handed-off mail: its handoff is there already and gets a note (written just after
        # the reply is marked failed: wait for it); otherwise a new one
        def staff_told() -> bool:
            handoff = handoff_of(gw, "<refused-1@musterhandel.example>")
            return ("delivery_failed" in [e.action for e in handoff.events]
                    or "reply_undelivered" in handoff.reasons)

        assert wait_until(staff_told)
    finally:
        relay.stop()
