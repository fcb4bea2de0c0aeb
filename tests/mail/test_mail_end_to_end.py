"""The whole email channel with the trained model: a mail goes in through the SMTP
listener, the reply comes out at the relay sink. Assertions are about what the customer
sees: headers, subject, language, text."""
from __future__ import annotations

import time

import pytest

import mail_samples as m
from mail_client import send

pytestmark = pytest.mark.slow


@pytest.fixture
def live(gateway, sink, router):
    return gateway(router, relay=sink)


def outcome(gw, message_id):
    rows = gw.store.query("SELECT * FROM inbound WHERE message_id=?", (message_id,))
    return rows[0] if rows else None


def reply_text(received):
    return received.message.get_body(("plain",)).get_content()


def assert_threaded_reply(received, parent_id, subject, language):
    msg = received.message
    assert msg["In-Reply-To"] == parent_id
    assert parent_id in msg["References"]
    assert msg["Subject"] == subject
    assert msg["Auto-Submitted"] == "auto-replied"
    assert msg["Message-ID"].endswith("@ks1bot.invalid>")
    assert msg["Content-Language"] == language
    assert msg.get_body(("html",)) is not None


def test_german_outlook_mail_with_signature_and_history(live, sink):
    send(live, m.german_outlook())
    [received] = sink.wait_for(1, timeout=60)
    assert_threaded_reply(received, "<outlook-1@musterhandel.example>", "Re: Drucker im Lager", "de")
    text = reply_text(received)
    assert text.startswith("Guten Tag")
    row = outcome(live, "<outlook-1@musterhandel.example>")
    # the new text (KS1 crashes, nobody can work) wins over the quoted printer question
    assert row["route"] == "handoff" and '"topic": "bug_report"' in row["decision_json"]
    assert '"priority": "high"' in row["decision_json"]
    assert "Ursprüngliche Nachricht" not in row["decision_json"]


def test_html_only_english_mail(live, sink):
    send(live, m.html_only(), mail_from="jane@example-trading.example")
    [received] = sink.wait_for(1, timeout=60)
    assert_threaded_reply(received, "<html-1@example-trading.example>", "Re: VAT update", "en")
    assert received.rcpt_tos == ["jane@example-trading.example"]
    text = reply_text(received)
    assert "Guten Tag" not in text and ("Hello" in text or "Dear" in text or "Thank" in text)


@pytest.mark.parametrize("raw, parent, subject", [
    (m.iso_8859_1(), "<latin1-1@musterhandel.example>", "Re: Frage zum Update für die MwSt-Änderung"),
    (m.mislabelled_charset(), "<mislabel-1@musterhandel.example>", "Re: Fehler beim Drucken der Rechnung"),
    (m.with_attachment(10 * 1024 * 1024), "<attach-1@musterhandel.example>", "Re: Fehlerprotokoll"),
], ids=["iso-8859-1", "mislabelled-charset", "10mb-attachment"])
def test_charsets_and_attachments(live, sink, raw, parent, subject):
    send(live, raw)
    [received] = sink.wait_for(1, timeout=60)
    assert_threaded_reply(received, parent, subject, "de")
    assert reply_text(received).startswith("Guten Tag")
    row = outcome(live, parent)
    assert "\ufffd" not in (row["text"] or "") and "Ã" not in (row["text"] or "")


def test_attachment_is_listed_in_the_decision(live, sink):
    send(live, m.with_attachment(10 * 1024 * 1024))
    sink.wait_for(1, timeout=60)
    row = outcome(live, "<attach-1@musterhandel.example>")
    assert '"filename": "ks1-protokoll.log"' in row["decision_json"] and '"size": 10485760' in row["decision_json"]


@pytest.mark.parametrize("raw, mail_from, reason", [
    (m.out_of_office(), "h.meier@musterhandel.example", "auto_generated:out_of_office"),
    (m.bounce(), "", "auto_generated:bounce"),
    (m.mailing_list(), "ks1-users-bounces@lists.example", "auto_generated:mailing_list"),
    (m.own_reply_back(), "support@ks1-support.example", "auto_generated:own_address"),
], ids=["out-of-office", "bounce", "mailing-list", "own-reply-back"])
def test_never_answered_but_stored_as_ignore(live, sink, raw, mail_from, reason):
    send(live, raw, mail_from=mail_from)
    assert live.wait_idle(60)
    time.sleep(0.3)
    assert sink.received == []
    [row] = live.store.query("SELECT * FROM inbound")
    assert (row["status"], row["route"], row["reason"]) == ("ignored", "ignore", reason)
    assert '"route": "ignore"' in row["decision_json"]


def test_two_mails_in_one_thread_go_to_the_handoff(live, sink):
    first = m.plain("KS1 stürzt ab", "Seit dem Update stürzt KS1 beim Buchen mit einer Fehlermeldung ab.",
                    message_id="<t1@musterhandel.example>")
    send(live, first)
    [ack] = sink.wait_for(1, timeout=60)
    assert_threaded_reply(ack, "<t1@musterhandel.example>", "Re: KS1 stürzt ab", "de")
    # the customer answers our acknowledgement with more details
    second = m.plain("AW: KS1 stürzt ab", "Die Fehlermeldung lautet 'Zugriffsverletzung bei Adresse 0x0040'.\n\n"
                     "Am 17.11.2026 schrieb KS1 Support:\n> Guten Tag, vielen Dank",
                     message_id="<t2@musterhandel.example>", in_reply_to=ack.message["Message-ID"],
                     references=f"<t1@musterhandel.example> {ack.message['Message-ID']}")
    send(live, second)
    assert live.wait_idle(60)
    time.sleep(0.3)
    assert len(sink.received) == 1  # no second automatic reply
    row = outcome(live, "<t2@musterhandel.example>")
    assert row["conversation_id"] == "<t1@musterhandel.example>"
    assert (row["status"], row["route"], row["reason"]) == ("processed", "handoff", "handoff_followup")
    # the conversation record holds the thread: one handoff, both customer mails in it
    assert live.handoffs.open_handoff_for("email", "<t1@musterhandel.example>") is not None
    [handoff] = live.handoffs.list(channel="email")
    assert [m.direction for m in live.handoffs.get(handoff.id).messages] == ["customer", "bot", "customer"]
    mails = live.store.query("SELECT message_id FROM inbound WHERE conversation_id=? ORDER BY id",
                             ("<t1@musterhandel.example>",))
    replies = live.store.query("SELECT message_id FROM outbound WHERE conversation_id=?", ("<t1@musterhandel.example>",))
    assert [r["message_id"] for r in mails] == ["<t1@musterhandel.example>", "<t2@musterhandel.example>"]
    assert [r["message_id"] for r in replies] == [ack.message["Message-ID"]]


def test_relay_down_then_up(gateway, sink, router):
    gw = gateway(router, relay=sink, retry_seconds=0.3)
    sink.stop()
    send(gw, m.plain("Frage zum Update", "Wie installiere ich das KS1 Update?", message_id="<down-1@x>"))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and gw.store.summary()["replies_retrying"] == 0:
        time.sleep(0.1)
    summary = gw.store.summary()
    assert summary["replies_retrying"] == 1 and "cannot reach the relay" in summary["last_error"]["error"]
    sink.start()
    [received] = sink.wait_for(1, timeout=30)
    assert received.message["In-Reply-To"] == "<down-1@x>"
    time.sleep(1.0)
    assert len(sink.received) == 1
    assert gw.store.summary()["replies"]["sent"] == 1
