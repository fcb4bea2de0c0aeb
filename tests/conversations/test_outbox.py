"""The outbox: claims with a lease, retries with backoff, the email hand-over, the end
states staff see."""
from __future__ import annotations

import datetime as dt

from ks1bot.conversations.outbox import Outbox
from tests.support.handoffs import new_handoff


def test_a_failed_delivery_is_retried_with_backoff_and_ends_failed(store):
    handoff = new_handoff(store, channel="chat")
    store.reply(handoff, "anna", "Hallo", "key-1")
    now = [dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=1)]
    outbox = Outbox(store.engine, clock=lambda: now[0])
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
    [failed] = store.get(handoff).deliveries
    assert failed.status == "failed"
    assert failed.label == "failed: widget server unreachable (after 3 attempts)"
    assert store.get(handoff).events[-1].action == "delivery_failed"
    assert outbox.claim("chat", "worker-1") is None


def test_a_crashed_worker_s_row_is_claimed_again_after_its_lease(store):
    handoff = new_handoff(store, channel="email", sender="h.meier@meier-bau.de")
    store.reply(handoff, "anna", "Hallo", "key-1")
    now = [dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=1)]
    outbox = Outbox(store.engine, clock=lambda: now[0], lease=dt.timedelta(minutes=2))
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
