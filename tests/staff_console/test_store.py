"""Handoff store, outbox and SLA clock, without HTTP."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo


from ks1bot.conversations.outbox import Outbox
from ks1bot.conversations.sla import SlaPolicy, sla_state
from ks1bot.core.settings import SupportHoursSettings
from ks1bot.core.support_hours import SupportHours

from .conftest import new_handoff

BERLIN = ZoneInfo("Europe/Berlin")
HOURS = SupportHours(SupportHoursSettings())


def test_sla_due_is_counted_in_support_hours():
    friday_afternoon = dt.datetime(2026, 12, 4, 15, 0, tzinfo=BERLIN)
    due = SlaPolicy().due(HOURS, friday_afternoon, "normal")  # 4 support hours
    assert due.astimezone(BERLIN) == dt.datetime(2026, 12, 7, 11, 0, tzinfo=BERLIN)
    assert SlaPolicy().due(HOURS, friday_afternoon, "high").astimezone(BERLIN) == dt.datetime(
        2026, 12, 4, 16, 0, tzinfo=BERLIN)
    # Saturday night counts nothing: still due, with the whole budget minus Friday's 1.5 h.
    saturday = dt.datetime(2026, 12, 5, 22, 0, tzinfo=BERLIN)
    state = sla_state(HOURS, due, saturday, done=False)
    assert state.badge == "due" and state.remaining == dt.timedelta(hours=2, minutes=30)
    assert state.label == "due in 2 h 30 min"
    late = sla_state(HOURS, due, dt.datetime(2026, 12, 7, 11, 45, tzinfo=BERLIN), done=False)
    assert late.badge == "overdue" and late.label == "overdue by 45 min"
    assert sla_state(HOURS, due, saturday, done=True).label == "done"


def test_create_is_idempotent_per_source_message(console):
    first = new_handoff(console.store, source_message_id="<abc@example.de>")
    again = new_handoff(console.store, source_message_id="<abc@example.de>")
    assert first == again
    assert len(console.store.list()) == 1


def test_open_handoff_for_a_conversation_until_it_is_handed_back(console):
    handoff = new_handoff(console.store, channel="chat", conversation_id="widget-42")
    assert console.store.open_handoff_for("chat", "widget-42") == handoff
    assert console.store.open_handoff_for("email", "widget-42") is None
    result = console.store.hand_back(handoff, "anna", "k1")
    assert result.ok
    assert console.store.open_handoff_for("chat", "widget-42") is None
    view = console.store.get(handoff)
    assert view.status == "handed_back"
    # the status change and the notification for the chat channel are one transaction
    [notice] = view.deliveries
    assert (notice.kind, notice.channel, notice.conversation_id, notice.status) == (
        "hand_back", "chat", "widget-42", "queued")


def test_a_reply_is_one_transaction_with_its_outbox_row(console):
    handoff = new_handoff(console.store, channel="chat", conversation_id="widget-7")
    result = console.store.reply(handoff, "anna", "Hallo, wir kümmern uns.", "key-1")
    assert result.ok and result.message.startswith("Reply queued (chat message to the customer's widget)")
    view = console.store.get(handoff)
    assert view.status == "claimed" and view.claimed_by == "anna"
    assert [m.text for m in view.messages if m.direction == "staff"] == ["Hallo, wir kümmern uns."]
    assert [e.action for e in view.events] == ["created", "replied"]
    [item] = view.deliveries
    assert (item.kind, item.status, item.label, item.staff_name) == ("staff_reply", "queued", "queued", "anna")
    # the same form again: nothing new
    again = console.store.reply(handoff, "anna", "Hallo, wir kümmern uns.", "key-1")
    assert again.ok and again.message == "Already sent (the form was sent twice)."
    assert len(console.store.get(handoff).deliveries) == 1


def test_a_phone_reply_needs_no_delivery(console):
    handoff = new_handoff(console.store, channel="call", sender="+4923112233")
    result = console.store.reply(handoff, "anna", "Rückruf erledigt.", "key-1")
    assert result.message == "Reply sent (callback to +4923112233 done)."
    [item] = console.store.get(handoff).deliveries
    assert item.status == "sent" and item.note == "callback to +4923112233 done"


def test_a_failed_delivery_is_retried_with_backoff_and_ends_failed(console):
    handoff = new_handoff(console.store, channel="chat")
    console.store.reply(handoff, "anna", "Hallo", "key-1")
    now = [dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=1)]
    outbox = Outbox(console.store.engine, clock=lambda: now[0])
    waits = []
    for attempt in range(1, 4):
        item = outbox.claim("chat", "worker-1")
        assert item is not None and item.attempts == attempt and item.status == "sending"
        assert outbox.claim("chat", "worker-2") is None  # leased to worker-1
        status = outbox.retry_later(item.id, "widget server unreachable", max_attempts=3,
                                    base=dt.timedelta(seconds=2))
        if status == "queued":
            assert outbox.claim("chat", "worker-1") is None  # not due yet
            due = outbox.get(item.id)
            assert due.label == "queued (retrying: widget server unreachable)"
            waits.append(attempt)
            now[0] += dt.timedelta(seconds=2 ** attempt)
    assert waits == [1, 2]
    [failed] = console.store.get(handoff).deliveries
    assert failed.status == "failed"
    assert failed.label == "failed: widget server unreachable (after 3 attempts)"
    assert console.store.get(handoff).events[-1].action == "delivery_failed"
    assert outbox.claim("chat", "worker-1") is None


def test_a_crashed_worker_s_row_is_claimed_again_after_its_lease(console):
    handoff = new_handoff(console.store, channel="email", sender="h.meier@meier-bau.de")
    console.store.reply(handoff, "anna", "Hallo", "key-1")
    now = [dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=1)]
    outbox = Outbox(console.store.engine, clock=lambda: now[0], lease=dt.timedelta(minutes=2))
    first = outbox.claim("email", "dead-worker")
    now[0] += dt.timedelta(minutes=3)
    again = outbox.claim("email", "worker-2")
    assert again is not None and again.id == first.id and again.attempts == 2
    outbox.handed_over(again.id, "<ks1.staff.x@ks1bot.invalid>")
    now[0] += dt.timedelta(minutes=3)
    assert outbox.claim("email", "worker-3") is None  # handed to the mail queue: not leased any more
    assert [i.id for i in outbox.in_flight("email")] == [again.id]
    outbox.delivered(again.id, "email to h.meier@meier-bau.de")
    assert outbox.get(again.id).status == "sent" and outbox.in_flight("email") == []


def test_empty_reply_is_refused(console):
    handoff = new_handoff(console.store)
    result = console.store.reply(handoff, "anna", "   ", "k")
    assert not result.ok and "empty" in result.message
