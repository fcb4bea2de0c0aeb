"""The Redis lock store several Rasa processes share: tickets issued at the same moment
by two processes for one conversation are all different (Rasa 3.6's RedisLockStore can
hand out one ticket twice: ks1bot/app/rasa_lock_store.py)."""
from __future__ import annotations

import multiprocessing

import pytest

pytestmark = pytest.mark.scale


def _issue(args):
    kind, port, count = args
    from rasa.core.lock_store import RedisLockStore

    from ks1bot.app.rasa_lock_store import AtomicRedisLockStore

    cls = AtomicRedisLockStore if kind == "atomic" else RedisLockStore
    store = cls(host="127.0.0.1", port=port, db=0, key_prefix=f"{kind}-test")
    return [store.issue_ticket("conversation-1", 600) for _ in range(count)]


def issued(kind: str, port: int, processes: int = 4, count: int = 150):
    with multiprocessing.get_context("fork").Pool(processes) as pool:
        return [t for tickets in pool.map(_issue, [(kind, port, count)] * processes) for t in tickets]


def test_tickets_issued_at_once_by_several_processes_are_unique(redis_server):
    tickets = issued("atomic", redis_server.port)
    assert sorted(tickets) == list(range(len(tickets)))


def test_a_served_ticket_is_released_and_the_lock_removed_when_nobody_waits(redis_server):
    from ks1bot.app.rasa_lock_store import AtomicRedisLockStore

    store = AtomicRedisLockStore(host="127.0.0.1", port=redis_server.port, db=0, key_prefix="cleanup-test")
    first, second = store.issue_ticket("c", 60), store.issue_ticket("c", 60)
    assert store.get_lock("c").is_locked(second) and not store.get_lock("c").is_locked(first)
    store.cleanup("c", first)
    assert not store.get_lock("c").is_locked(second)
    store.cleanup("c", second)
    assert store.get_lock("c") is None
