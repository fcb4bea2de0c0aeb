"""Staff replies and hand-backs for chat conversations (the widget and REST), delivered
inside the Rasa server from the outbox.

The staff console only writes outbox rows. `ChatInput`'s blueprint starts `ChatDelivery`
when the server is up (once start-up code has called `deliver_from`, see
`ks1bot.app.rasa_server`): it claims the chat rows, triggers Rasa's external intent
(EXTERNAL_staff_reply / EXTERNAL_hand_back) on the conversation through the agent, with
the socket.io output channel of the browser's session, or a collecting channel for a
REST conversation (the text still lands in the tracker, where `/widget/missed` finds
it), and marks each row sent. A failure is retried with backoff and ends `failed`,
visible on the handoff's page.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import Any, Callable, Dict, Optional, Tuple

from ks1bot.conversations.outbox import Outbox, OutboxItem, worker_id
from ks1bot.core import logs

log = logging.getLogger("ks1bot.channels.chat_delivery")
CHANNEL = "chat"

_outbox_factory: Optional[Callable[[], Outbox]] = None


def deliver_from(outbox_factory: Optional[Callable[[], Outbox]]) -> None:
    """Register where chat deliveries come from (start-up code, before Rasa starts)."""
    global _outbox_factory
    _outbox_factory = outbox_factory


def registered() -> Optional["ChatDelivery"]:
    return ChatDelivery(_outbox_factory) if _outbox_factory is not None else None


def external_intent(item: OutboxItem) -> Tuple[str, Dict[str, Any]]:
    """The external intent (bot/domain.yml) that makes the bot say an outbox row."""
    if item.kind == "hand_back":
        return "EXTERNAL_hand_back", {}
    return "EXTERNAL_staff_reply", {"staff_text": item.text, "staff_name": item.staff_name or "KS1-Support"}


def output_channel_for(app, tracker):
    """The output channel of the conversation's latest input channel (socket.io: the
    browser's session room), else one that only collects (REST)."""
    from rasa.core.channels.channel import CollectingOutputChannel

    name = tracker.get_latest_input_channel()
    for channel in getattr(app.ctx, "input_channels", None) or []:
        if channel.name() == name:
            output = channel.get_output_channel()
            if output is not None:
                return output
    return CollectingOutputChannel()


class ChatDelivery:
    def __init__(self, outbox_factory: Callable[[], Outbox], poll_seconds: float = 0.5, max_attempts: int = 6,
                 retry: dt.timedelta = dt.timedelta(seconds=2)) -> None:
        self.outbox_factory = outbox_factory
        self.poll_seconds = poll_seconds
        self.max_attempts = max_attempts
        self.retry = retry
        self.worker = worker_id()
        self.outbox: Optional[Outbox] = None
        self._task: Optional[asyncio.Task] = None

    def start(self, app) -> None:
        self._task = asyncio.get_running_loop().create_task(self.run(app))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass

    async def run(self, app) -> None:
        while self.outbox is None:
            try:
                self.outbox = await asyncio.to_thread(self.outbox_factory)
            except Exception as exc:  # the database is down at start: the rows wait
                logs.event(log, "chat_delivery_unavailable", logging.ERROR, error=repr(exc))
                await asyncio.sleep(5.0)
        logs.event(log, "chat_delivery_started", worker=self.worker)
        while True:
            agent = getattr(app.ctx, "agent", None)
            if agent is None or not agent.is_ready():
                await asyncio.sleep(self.poll_seconds)  # the model is still loading
                continue
            try:
                item = await asyncio.to_thread(self.outbox.claim, CHANNEL, self.worker)
            except Exception as exc:  # the database is down: keep trying, the rows wait
                logs.event(log, "chat_delivery_claim_failed", logging.ERROR, error=repr(exc))
                await asyncio.sleep(5 * self.poll_seconds)
                continue
            if item is None:
                await asyncio.sleep(self.poll_seconds)
                continue
            await self.deliver(app, agent, item)

    async def deliver(self, app, agent, item: OutboxItem) -> None:
        intent, entities = external_intent(item)
        try:
            async with agent.lock_store.lock(item.conversation_id):
                tracker = await agent.processor.fetch_tracker_and_update_session(item.conversation_id)
                await agent.trigger_intent(intent, entities, output_channel_for(app, tracker), tracker)
        except Exception as exc:  # retried with backoff, then failed (shown to staff)
            error = f"the chat server could not deliver it ({type(exc).__name__}: {exc})"
            await asyncio.to_thread(self.outbox.retry_later, item.id, error, self.max_attempts, self.retry)
            return
        await asyncio.to_thread(self.outbox.delivered, item.id)
        logs.event(log, "chat_delivered", outbox_id=item.id, conversation_id=item.conversation_id, kind=item.kind,
                   handoff_id=item.handoff_id)
