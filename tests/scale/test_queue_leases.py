"""The mail queue's coordination on PostgreSQL, step by step (the worker tests show the
whole): claims skip each other's rows, a lease that runs out hands the mail over, the
worker that lost it stores and sends nothing, the IMAP election."""
from __future__ import annotations

import socket
import threading

import pytest

from mail_gateway.store import ClaimLost, MailStore, NewOutbound, Outcome
from tests.scale.test_mail_workers import mail

pytestmark = pytest.mark.scale


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def queue(pg, tmp_path):
    url = pg.database()
    clock = Clock()
    return MailStore(tmp_path / "mail", clock=clock, url=url, lease_seconds=30), clock


def reply(n: int) -> NewOutbound:
    return NewOutbound(f"<reply-{n}@ks1bot.invalid>", f"<c{n}>", "auto_reply", "kunde@musterhandel.example", "Re: x",
                       "text", "de", f"replies/{n}.eml")


def test_concurrent_claims_never_take_the_same_mail(queue):
    store, _clock = queue
    for n in range(40):
        store.enqueue(mail(n, "claims"), "smtp")
    taken, lock = [], threading.Lock()

    def worker(name: str) -> None:
        while (row := store.claim_inbound(name)) is not None:
            with lock:
                taken.append(row.id)

    threads = [threading.Thread(target=worker, args=(f"host:{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(taken) == sorted(set(taken)) and len(taken) == 40


def test_a_lease_that_runs_out_hands_the_mail_over_and_the_first_worker_stores_nothing(queue):
    store, clock = queue
    store.enqueue(mail(1, "lease"), "smtp")
    first = store.claim_inbound("a:1")
    assert store.claim_inbound("b:2") is None                # held
    clock.now += 10
    assert store.renew("a:1") == 1                           # a live worker keeps it
    clock.now += 25
    assert store.claim_inbound("b:2") is None                # renewed 25 s ago (lease 30 s): still a's
    clock.now += 30
    second = store.claim_inbound("b:2")                      # a stopped renewing: b takes it
    assert second.id == first.id
    assert store.finish(first.id, Outcome("processed", reply=reply(1)), me="a:1") is False
    assert store.finish(second.id, Outcome("processed", reply=reply(1)), me="b:2") is True
    assert store.query("SELECT COUNT(*) AS n FROM outbound")[0]["n"] == 1


def test_a_reply_taken_over_is_not_sent_by_the_worker_that_lost_it(queue):
    store, clock = queue
    store.add_outbound(reply(2))
    row = store.claim_outbound("a:1")
    clock.now += 31
    assert store.claim_outbound("b:2").id == row.id
    with pytest.raises(ClaimLost):
        store.mark_sending(row.id, "a:1")
    store.mark_sending(row.id, "b:2")
    store.mark_sent(row.id)
    assert store.outbound("<reply-2@ks1bot.invalid>")["state"] == "sent"


def test_the_imap_poller_is_elected_and_taken_over(queue):
    store, clock = queue
    assert store.take_lease("imap:box", "a:1") and not store.take_lease("imap:box", "b:2")
    assert store.lease_holder("imap:box") == "a:1"
    clock.now += 20
    assert store.take_lease("imap:box", "a:1")               # renewed
    clock.now += 31
    assert store.take_lease("imap:box", "b:2")               # a went silent
    assert not store.take_lease("imap:box", "a:1")
    # a holder on this machine whose process is gone is replaced at once
    dead = f"{socket.gethostname()}:999999"
    store.query("UPDATE leases SET holder=?, lease_until=? WHERE name='imap:box'", (dead, clock.now + 1000))
    assert store.take_lease("imap:box", "c:3")
