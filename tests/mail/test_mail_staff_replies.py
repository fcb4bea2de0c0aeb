"""Staff replies and hand-backs of email threads, from the outbox of the conversation
record through the running gateway (stub router, an SMTP sink as the relay)."""
from __future__ import annotations

import time

import mail_samples as m
from mail_client import send


def handoff_of(gw, conversation_id):
    return next(h for h in gw.handoffs.list(channel="email") if h.conversation_id == conversation_id)


def wait_for_delivery(gw, handoff_id, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        deliveries = gw.handoffs.deliveries(handoff_id)
        if deliveries and all(d.status in ("sent", "failed") for d in deliveries):
            return deliveries
        time.sleep(0.1)
    raise AssertionError(f"not delivered: {gw.handoffs.deliveries(handoff_id)}")


def test_staff_reply_from_the_outbox_is_threaded_and_sent_once(gateway, sink, stub_router):
    gw = gateway(stub_router, relay=sink)
    send(gw, m.plain("KS1 stürzt ab", "KS1 stürzt beim Buchen ab.", message_id="<api-1@musterhandel.example>"))
    sink.wait_for(1)
    assert gw.wait_idle(30)
    handoff = handoff_of(gw, "<api-1@musterhandel.example>")
    result = gw.handoffs.reply(handoff.id, "Anna Schmidt", "Guten Tag Herr Meier,\n\nwir rufen Sie an.", "form-1")
    assert result.ok and "queued" in result.message
    [delivery] = wait_for_delivery(gw, handoff.id)
    assert delivery.status == "sent" and delivery.reference.startswith("<ks1.staff.")
    staff = sink.wait_for(2)[1].message
    assert staff["In-Reply-To"] == "<api-1@musterhandel.example>" and staff["Subject"] == "Re: KS1 stürzt ab"
    assert staff["Auto-Submitted"] is None and "Anna Schmidt" in staff["From"]
    assert staff["Message-ID"] == delivery.reference
    rows = gw.store.query("SELECT kind, state FROM outbound ORDER BY id")
    assert [(r["kind"], r["state"]) for r in rows] == [("auto_reply", "sent"), ("staff_reply", "sent")]
    # handing the same row over again (a crash before it was marked) queues no second mail
    assert gw.staff_replies.queue_reply(delivery) == delivery.reference
    time.sleep(1.0)
    assert len(sink.received) == 2
    assert [e.action for e in gw.handoffs.get(handoff.id).events][-2:] == ["replied", "delivered"]


def test_a_reply_to_an_unknown_thread_ends_failed_and_visible(gateway, sink, stub_router):
    from tests.support.handoffs import new_handoff

    gw = gateway(stub_router, relay=sink)
    handoff = new_handoff(gw.handoffs, channel="email", conversation_id="<nope@x>", sender="h.meier@meier-bau.de")
    gw.handoffs.reply(handoff, "anna", "Hallo", "form-1")
    [delivery] = wait_for_delivery(gw, handoff)
    assert delivery.status == "failed" and delivery.label.startswith("failed: no mail of the conversation <nope@x>")
    assert sink.received == []
    assert gw.handoffs.get(handoff).events[-1].action == "delivery_failed"


def test_hand_back_by_email_goes_through_the_outbox_and_the_bot_answers_again(gateway, sink, stub_router):
    gw = gateway(stub_router, relay=sink, thread_replies_per_day=5)
    send(gw, m.plain("KS1 stürzt ab", "KS1 stürzt beim Buchen ab.", message_id="<hb-1@musterhandel.example>"))
    [ack] = sink.wait_for(1)
    handoff = handoff_of(gw, "<hb-1@musterhandel.example>")

    def answer(number):
        send(gw, m.plain("AW: KS1 stürzt ab", "Und unser Drucker im Lager ist auch kaputt.",
                         message_id=f"<hb-{number}@musterhandel.example>",
                         in_reply_to=ack.message["Message-ID"], references=f"<hb-1@musterhandel.example> "
                                                                            f"{ack.message['Message-ID']}"))
        assert gw.wait_idle(30)
        time.sleep(0.3)
        return gw.store.query("SELECT route, reason FROM inbound WHERE message_id=?",
                              (f"<hb-{number}@musterhandel.example>",))[0]

    # with staff (the record says so): the customer's mail joins the handoff, no reply
    assert tuple(answer(2)) == ("handoff", "handoff_followup")
    assert len(sink.received) == 1
    assert [m.direction for m in gw.handoffs.get(handoff.id).messages].count("customer") == 2
    result = gw.handoffs.hand_back(handoff.id, "anna", "form-2")
    assert result.ok
    [delivery] = wait_for_delivery(gw, handoff.id)
    assert (delivery.kind, delivery.status) == ("hand_back", "sent")
    # with the bot again: the next mail of the thread is answered (the stub router: an exclusion)
    assert answer(3)["route"] == "exclude"
    assert len(sink.wait_for(2)) == 2
