"""Handoff store and SLA clock, without HTTP."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from console.sla import SlaPolicy, sla_state
from ks1bot.settings import SupportHoursSettings
from ks1bot.support_hours import SupportHours

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
    notified = []
    result = console.store.hand_back(handoff, "anna", "k1", notify=notified.append)
    assert result.ok and [h.id for h in notified] == [handoff]
    assert console.store.open_handoff_for("chat", "widget-42") is None
    assert console.store.get(handoff).status == "handed_back"


def test_a_failed_channel_send_records_nothing_but_the_failure(console):
    handoff = new_handoff(console.store, channel="chat")

    def broken(view, text):
        raise ConnectionError("widget server unreachable")

    result = console.store.reply(handoff, "anna", "Hallo", "key-1", broken)
    assert not result.ok and "could not be sent" in result.message
    view = console.store.get(handoff)
    assert not [m for m in view.messages if m.direction == "staff"]
    assert [e.action for e in view.events][-1] == "reply_failed"
    # The same form can be sent again once the channel works.
    ok = console.store.reply(handoff, "anna", "Hallo", "key-1", lambda view, text: "chat")
    assert ok.ok and ok.message == "Reply sent (chat)."


def test_empty_reply_is_refused(console):
    handoff = new_handoff(console.store)
    result = console.store.reply(handoff, "anna", "   ", "k", lambda v, t: "x")
    assert not result.ok and "empty" in result.message
