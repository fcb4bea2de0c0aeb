"""Rasa custom actions: thin wrappers around the routing code (ks1bot.service)."""
from __future__ import annotations

import datetime as dt
import logging
import threading
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from ks1bot import logs
from ks1bot.messages import CHANNELS, InboundMessage, parse_timestamp

log = logging.getLogger("actions")

_router = None
_store = None
_router_lock = threading.Lock()


def get_router():
    """The process-wide Router (settings, customers, knowledge base), built on first use."""
    global _router
    with _router_lock:
        if _router is None:
            from ks1bot.customers import CustomerDirectory
            from ks1bot.knowledge import KnowledgeBase
            from ks1bot.rasa_config import load_configured_embedder
            from ks1bot.service import Router
            from ks1bot.settings import load_settings

            logs.configure_own_loggers()
            settings = load_settings()
            directory = CustomerDirectory.load(settings.customers) if settings.customers else CustomerDirectory.empty()
            knowledge = KnowledgeBase.load(settings.knowledge_dir, load_configured_embedder())
            _router = Router(settings, directory, knowledge)
        return _router


def get_store():
    """The handoff store the staff console reads (built on first use)."""
    global _store
    with _router_lock:
        if _store is None:
            from console.service import handoff_store
            from ks1bot.settings import load_settings

            _store = handoff_store(load_settings())
        return _store


def set_router(router, store=None) -> None:
    """Use this router and handoff store (tests inject their own)."""
    global _router, _store
    _router, _store = router, store


def inbound_from_tracker(tracker: Tracker, now: Optional[dt.datetime] = None) -> InboundMessage:
    """The message as the routing code sees it. Channels put details in the metadata:
    channel (email/chat/call), received_at, sender (address or phone), subject, language."""
    latest = tracker.latest_message or {}
    metadata: Dict[str, Any] = latest.get("metadata") or {}
    channel = metadata.get("channel") if metadata.get("channel") in CHANNELS else "chat"
    received_at = now or dt.datetime.now(dt.timezone.utc)
    if metadata.get("received_at"):
        try:
            received_at = parse_timestamp(metadata["received_at"])
        except ValueError:
            pass
    sender = str(metadata.get("sender") or tracker.sender_id or "")
    return InboundMessage(
        id=str(metadata.get("message_id") or latest.get("message_id") or tracker.sender_id),
        channel=channel,
        received_at=received_at,
        sender=sender,
        text=str(metadata.get("original_text") or latest.get("text") or ""),
        subject=metadata.get("subject"),
        language_hint=metadata.get("language") if metadata.get("language") in ("de", "en") else None,
        auto_generated=metadata.get("auto_generated"),
    )


class ActionRoute(Action):
    """Route the latest message (SPEC §4) and send the reply; silent after a handoff."""

    def name(self) -> Text:
        return "action_route"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        message = inbound_from_tracker(tracker)
        handoff_id = tracker.get_slot("handoff_id")
        if handoff_id:
            # The conversation is with staff: the message goes to the handoff, the bot is silent.
            try:
                get_store().add_customer_message(int(handoff_id), message.sender, message.text, message.received_at)
            except (ValueError, TypeError):
                pass
            logs.event(log, "bot_silent_in_handoff", conversation_id=tracker.sender_id, handoff_id=handoff_id)
            return []
        routed = get_router().route(message, parse=tracker.latest_message)
        decision = routed.decision
        logs.event(log, "message_routed", conversation_id=tracker.sender_id, message_id=message.id,
                   channel=message.channel, topic=decision.topic, route=decision.route,
                   reasons=list(decision.reasons))
        output = routed.to_output()
        events: List[Dict[Text, Any]] = [SlotSet("last_route", decision.route)]
        if decision.route == "handoff":
            from console.intake import record_handoff

            callback = message.sender if message.channel == "call" else None
            new_id = record_handoff(get_store(), routed, tracker.sender_id, callback_number=callback)
            output["handoff_id"] = new_id
            events.append(SlotSet("handoff_id", str(new_id)))
        if routed.reply:
            dispatcher.utter_message(text=routed.reply, json_message={"ks1bot": output})
        else:
            dispatcher.utter_message(json_message={"ks1bot": output})
        return events
