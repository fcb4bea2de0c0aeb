"""Rasa's RedisLockStore with its read-modify-write steps made atomic.

Rasa Open Source 3.6's RedisLockStore issues a ticket by GET (the conversation's
TicketLock), adding a ticket in Python, SET — and releases one the same way. Two Rasa
processes that take a message of the same conversation at the same moment both read the
lock before either writes it: both get the same ticket, both go ahead, and one of the
two messages' events is lost when their trackers are saved (seen in tests/scale; the
known report is RasaHQ/rasa#9213; the fix, ConcurrentRedisLockStore, is Rasa Pro's, not
in Rasa Open Source 3.6).

Here the same steps run inside Redis optimistic transactions (WATCH the conversation's
key, MULTI/EXEC, retried when another process changed it meanwhile): the ticket queue is
Rasa's own TicketLock, stored under the same key in the same format; only the
read-modify-write is made atomic. Nothing else changes: this is Rasa's lock store,
selected in endpoints.yml as `type: ks1bot.app.rasa_lock_store.AtomicRedisLockStore`
(`ks1bot serve` does so when a Redis URL is set).
"""
from __future__ import annotations

import json
from typing import Any, Callable, Optional, Tuple

from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, RedisLockStore


class AtomicRedisLockStore(RedisLockStore):
    def __init__(self, endpoint_config: Any = None, **kwargs: Any) -> None:
        if endpoint_config is not None:  # Rasa builds custom lock stores from the endpoint
            kwargs = {**endpoint_config.kwargs, "host": endpoint_config.url or "localhost", **kwargs}
            kwargs.pop("type", None)
        super().__init__(**kwargs)

    def _change(self, conversation_id: str,
                change: Callable[[Optional[TicketLock]], Tuple[Optional[TicketLock], bool, Any]]) -> Any:
        """Apply `change(lock) -> (lock, keep, result)` atomically: the lock is saved when
        `keep`, deleted otherwise; a change by another process in between runs it again."""
        key = self.key_prefix + conversation_id

        def work(pipe) -> Any:
            raw = pipe.get(key)
            lock = TicketLock.from_dict(json.loads(raw)) if raw else None
            new, keep, result = change(lock)
            pipe.multi()
            if keep and new is not None:
                pipe.set(key, new.dumps())
            elif lock is not None:
                pipe.delete(key)
            return result

        return self.red.transaction(work, key, value_from_callable=True)

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        def change(lock: Optional[TicketLock]):
            lock = lock or TicketLock(conversation_id)
            return lock, True, lock.issue_ticket(lock_lifetime)

        return self._change(conversation_id, change)

    def update_lock(self, conversation_id: str) -> None:
        def change(lock: Optional[TicketLock]):
            if lock is not None:
                lock.remove_expired_tickets()
            return lock, lock is not None, None

        self._change(conversation_id, change)

    def finish_serving(self, conversation_id: str, ticket_number: int) -> None:
        def change(lock: Optional[TicketLock]):
            if lock is not None:
                lock.remove_ticket_for(ticket_number)
            return lock, lock is not None, None

        self._change(conversation_id, change)

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        """Remove the ticket; the lock goes once nobody waits — in one step."""
        def change(lock: Optional[TicketLock]):
            if lock is None:
                return None, False, None
            lock.remove_ticket_for(ticket_number)
            return lock, lock.is_someone_waiting(), None

        self._change(conversation_id, change)
