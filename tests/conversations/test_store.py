"""Handoff store (the one record of who holds a conversation) and SLA clock, without HTTP."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from ks1bot.conversations.sla import SlaPolicy, sla_state
from ks1bot.core.settings import SupportHoursSettings
from ks1bot.core.support_hours import SupportHours
from tests.support.handoffs import new_handoff

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


def test_create_is_idempotent_per_source_message(store):
    first = new_handoff(store, source_message_id="<abc@example.de>")
    again = new_handoff(store, source_message_id="<abc@example.de>")
    assert first == again
    assert len(store.list()) == 1


def test_a_conversation_has_at_most_one_open_handoff(store):
    """Issue 12, flooding: further handed-off messages of a conversation with staff join its
    handoff (also when two servers race past the "with staff?" check); after it is
    resolved, a new one may open."""
    first = new_handoff(store, channel="chat", conversation_id="flood-1", text="Rückruf bitte!",
                        source_message_id="chat:flood-1:m1")
    again = [new_handoff(store, channel="chat", conversation_id="flood-1", text=f"Rückruf bitte! {n}",
                         source_message_id=f"chat:flood-1:m{n}") for n in range(2, 6)]
    assert again == [first] * 4
    assert [h.id for h in store.list() if h.conversation_id == "flood-1"] == [first]
    texts = [m.text for m in store.get(first).messages if m.direction == "customer"]
    assert texts == ["Rückruf bitte!"] + [f"Rückruf bitte! {n}" for n in range(2, 6)]
    other = new_handoff(store, channel="call", conversation_id="flood-1")  # another channel's conversation
    assert other != first
    assert store.resolve(first, "anna", "resolve-flood").ok
    assert new_handoff(store, channel="chat", conversation_id="flood-1") not in (first, other)


def test_open_handoff_for_a_conversation_until_it_is_handed_back(store):
    handoff = new_handoff(store, channel="chat", conversation_id="widget-42")
    assert store.open_handoff_for("chat", "widget-42") == handoff
    assert store.open_handoff_for("email", "widget-42") is None
    result = store.hand_back(handoff, "anna", "k1")
    assert result.ok
    assert store.open_handoff_for("chat", "widget-42") is None
    view = store.get(handoff)
    assert view.status == "handed_back"
    # the status change and the notification for the chat channel are one transaction
    [notice] = view.deliveries
    assert (notice.kind, notice.channel, notice.conversation_id, notice.status) == (
        "hand_back", "chat", "widget-42", "queued")


def test_a_reply_is_one_transaction_with_its_outbox_row(store):
    handoff = new_handoff(store, channel="chat", conversation_id="widget-7")
    result = store.reply(handoff, "anna", "Hallo, wir kümmern uns.", "key-1")
    assert result.ok and result.message.startswith("Reply queued (chat message to the customer's widget)")
    view = store.get(handoff)
    assert view.status == "claimed" and view.claimed_by == "anna"
    assert [m.text for m in view.messages if m.direction == "staff"] == ["Hallo, wir kümmern uns."]
    assert [e.action for e in view.events] == ["created", "replied"]
    [item] = view.deliveries
    assert (item.kind, item.status, item.label, item.staff_name) == ("staff_reply", "queued", "queued", "anna")
    # the same form again: nothing new
    again = store.reply(handoff, "anna", "Hallo, wir kümmern uns.", "key-1")
    assert again.ok and again.message == "Already sent (the form was sent twice)."
    assert len(store.get(handoff).deliveries) == 1


def test_a_phone_reply_needs_no_delivery(store):
    handoff = new_handoff(store, channel="call", sender="+4923112233")
    result = store.reply(handoff, "anna", "Rückruf erledigt.", "key-1")
    assert result.message == "Reply sent (callback to +4923112233 done)."
    [item] = store.get(handoff).deliveries
    assert item.status == "sent" and item.note == "callback to +4923112233 done"


def test_empty_reply_is_refused(store):
    handoff = new_handoff(store)
    result = store.reply(handoff, "anna", "   ", "k")
    assert not result.ok and "empty" in result.message
