"""Rasa custom actions: thin wrappers around the routing code (ks1bot.nlu.router)."""
from __future__ import annotations

import datetime as dt
import logging
import threading
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from ks1bot.channels.call_flow import call_step
from ks1bot.core import logs
from ks1bot.core.messages import CHANNELS, InboundMessage, parse_timestamp
from ks1bot.conversations.db import StoreUnavailable
from ks1bot.conversations.feedback import record_decision
from ks1bot.core.replies import phrase
from ks1bot.core.tokens import CustomerIdentity

log = logging.getLogger("actions")

_router = None
_store = None
_lock = threading.Lock()
#: Input channels whose output cannot carry our JSON decision payload (the widget).
NO_JSON_CHANNELS = ("socketio",)


def get_router():
    """The process-wide Router (settings, customers, knowledge base), built on first use."""
    global _router
    with _lock:
        if _router is None:
            from ks1bot.app import wiring
            from ks1bot.core.settings import load_settings

            logs.configure_own_loggers()
            _router = wiring.action_server_router(load_settings())
        return _router


def get_store():
    """The handoff store: who holds each conversation (built on first use)."""
    global _store
    with _lock:
        if _store is None:
            from ks1bot.app import wiring
            from ks1bot.core.settings import load_settings

            _store = wiring.handoff_store(load_settings())
        return _store


def set_router(router, store=None) -> None:
    """Use this router and handoff store (tests inject their own)."""
    global _router, _store
    _router, _store = router, store


def inbound_from_tracker(tracker: Tracker, now: Optional[dt.datetime] = None) -> InboundMessage:
    """The message as the routing code sees it. Our channels (ks1bot.channels) put details
    in the metadata: channel (email/chat/call), received_at, subject, language,
    original_text (the text before any channel-side rewriting), and who the customer is:
    the phone channel the caller's number (`sender`), the web channels the identity of a
    customer token signed by KS1 web (`ks1bot_identity`). Without one a chat is an
    unknown customer: neither the conversation id nor anything else a client sends decides."""
    latest = tracker.latest_message or {}
    metadata: Dict[str, Any] = latest.get("metadata") or {}
    channel = metadata.get("channel") if metadata.get("channel") in CHANNELS else "chat"
    identity = CustomerIdentity.from_metadata(metadata.get("ks1bot_identity"))
    if channel == "call" and tracker.get_latest_input_channel() == "call":
        sender = str(metadata.get("sender") or "")
    else:
        channel = "chat" if channel == "call" else channel
        sender = identity.email if identity else ""
    received_at = now or dt.datetime.now(dt.timezone.utc)
    if metadata.get("received_at"):
        try:
            received_at = parse_timestamp(metadata["received_at"])
        except ValueError:
            pass
    text = metadata["original_text"] if isinstance(metadata.get("original_text"), str) else latest.get("text")
    language = metadata.get("language")
    if isinstance(text, str) and text.startswith("/"):
        # An intent payload (the widget's opening "/greeting"), not words: nothing to read
        # a language from, so the page's language decides.
        text, language = "", language or metadata.get("page_language")
    return InboundMessage(
        id=str(metadata.get("message_id") or latest.get("message_id") or tracker.sender_id),
        channel=channel,
        received_at=received_at,
        sender=sender,
        text=str(text or ""),
        subject=metadata.get("subject"),
        language_hint=language if language in ("de", "en") else None,
        auto_generated=metadata.get("auto_generated"),
        customer_id=identity.customer_id if identity else None,
    )


def with_staff(tracker: Tracker, message: InboundMessage) -> Optional[int]:
    """The open handoff this conversation is in, from the conversation record; None when
    the bot holds it. Only when the record cannot be read does the slot decide."""
    try:
        return get_store().open_handoff_for(message.channel, tracker.sender_id)
    except StoreUnavailable:
        slot = tracker.get_slot("handoff_id")
        logs.event(log, "handoff_store_unavailable", logging.ERROR, conversation_id=tracker.sender_id, slot=slot)
        return int(slot) if str(slot or "").isdigit() else None


def _asr_confidence(tracker: Tracker) -> Optional[float]:
    value = ((tracker.latest_message or {}).get("metadata") or {}).get("asr_confidence")
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def _language(tracker: Tracker, message: InboundMessage) -> str:
    if message.language_hint:
        return message.language_hint
    slot = tracker.get_slot("language")
    if slot in ("de", "en"):
        return slot
    if message.text.strip():
        from ks1bot.core.language import detect_language

        return detect_language(message.text)
    return "de"


def _utter(dispatcher: CollectingDispatcher, tracker: Tracker, text: str, payload: Dict[str, Any]) -> None:
    if tracker.get_latest_input_channel() in NO_JSON_CHANNELS:
        if text:
            dispatcher.utter_message(text=text)
    elif text:
        dispatcher.utter_message(text=text, json_message={"ks1bot": payload})
    else:
        dispatcher.utter_message(json_message={"ks1bot": payload})


class ActionRoute(Action):
    """Route the latest message (SPEC §4) and send the reply; silent after a handoff."""

    def name(self) -> Text:
        return "action_route"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        message = inbound_from_tracker(tracker)
        handoff_id = with_staff(tracker, message)
        if handoff_id is not None:
            # The conversation is with staff: the message goes to the handoff, the bot is silent.
            try:
                get_store().add_customer_message(handoff_id, message.sender, message.text, message.received_at)
            except StoreUnavailable:
                logs.event(log, "customer_message_not_stored", logging.ERROR, handoff_id=handoff_id)
            logs.event(log, "bot_silent_in_handoff", conversation_id=tracker.sender_id, handoff_id=handoff_id)
            if message.channel == "call":  # a phone line cannot stay silent
                language = _language(tracker, message)
                text = phrase("call_in_handoff", language)
                _utter(dispatcher, tracker, text, {"id": message.id, "language": language, "topic": None,
                                                   "route": "handoff", "reasons": ["in_handoff"], "reply": text,
                                                   "handoff_id": handoff_id})
            return []

        events: List[Dict[Text, Any]] = []
        unclear = False
        if message.channel == "call":
            repeats = int(tracker.get_slot("asr_repeats") or 0)
            step = call_step(message.text, _asr_confidence(tracker), repeats)
            if step == "repeat":
                language = _language(tracker, message)
                text = phrase("call_repeat", language)
                logs.event(log, "call_repeat_asked", conversation_id=tracker.sender_id, asr_repeats=repeats + 1)
                _utter(dispatcher, tracker, text, {"id": message.id, "language": language, "topic": None,
                                                   "route": "answer", "reasons": ["asr_repeat"], "reply": text})
                return [SlotSet("asr_repeats", float(repeats + 1))]
            unclear = step == "handoff"
            if repeats and not unclear:
                events.append(SlotSet("asr_repeats", 0.0))

        routed = get_router().route(message, parse=tracker.latest_message, unclear_speech=unclear)
        decision = routed.decision
        logs.event(log, "message_routed", conversation_id=tracker.sender_id, message_id=message.id,
                   channel=message.channel, topic=decision.topic, route=decision.route,
                   reasons=list(decision.reasons))
        output = routed.to_output()
        events += [SlotSet("last_route", decision.route), SlotSet("language", routed.language)]
        if decision.route == "handoff":
            from ks1bot.conversations.intake import record_handoff

            callback = message.sender if message.channel == "call" else None
            new_id = record_handoff(get_store(), routed, tracker.sender_id, callback_number=callback)
            output["handoff_id"] = new_id
            events.append(SlotSet("handoff_id", str(new_id)))
        record_decision(get_store, routed, tracker.sender_id, output.get("handoff_id"))
        _utter(dispatcher, tracker, routed.reply, output)
        return events


def _entity(tracker: Tracker, name: str) -> Optional[str]:
    for entity in (tracker.latest_message or {}).get("entities") or []:
        if entity.get("entity") == name:
            return str(entity.get("value") or "")
    return None


class ActionStaffReply(Action):
    """A staff member's reply from the console, shown in the customer's chat."""

    def name(self) -> Text:
        return "action_staff_reply"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        text = _entity(tracker, "staff_text") or ""
        staff = _entity(tracker, "staff_name") or "KS1-Support"
        language = tracker.get_slot("language") if tracker.get_slot("language") in ("de", "en") else "de"
        if text.strip():
            dispatcher.utter_message(text=f"{phrase('staff_reply_intro', language, staff_name=staff)}\n{text}")
            logs.event(log, "staff_reply_delivered", conversation_id=tracker.sender_id, staff=staff)
        return []


class ActionHandBack(Action):
    """Staff hand the conversation back: the bot answers again."""

    def name(self) -> Text:
        return "action_hand_back"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        language = tracker.get_slot("language") if tracker.get_slot("language") in ("de", "en") else "de"
        dispatcher.utter_message(text=phrase("handed_back", language))
        logs.event(log, "handed_back_to_bot", conversation_id=tracker.sender_id,
                   handoff_id=tracker.get_slot("handoff_id"))
        return [SlotSet("handoff_id", None), SlotSet("asr_repeats", 0.0)]


class ActionWarmUp(Action):
    """Load the router and the handoff store now, not on the first customer's message
    (`ks1bot serve` calls it once the action server is up)."""

    def name(self) -> Text:
        return "action_warm_up"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        router = get_router()
        get_store()
        # The whole routing path once per channel kind (embedding model, knowledge index,
        # language detection, reply templates); routing decides only, it stores nothing.
        now = dt.datetime.now(dt.timezone.utc)
        parse = {"intent": {"name": "update_question", "confidence": 0.9},
                 "intent_ranking": [{"name": "update_question", "confidence": 0.9}]}
        for channel, subject in (("chat", None), ("email", "KS1 Update")):
            sample = InboundMessage(id=f"warm-up-{channel}", channel=channel, received_at=now,
                                    sender="warm-up@example.invalid", subject=subject,
                                    text="Wie spiele ich das neue KS1-Update ein?")
            router.route(sample, parse={**parse, "text": sample.text})
        logs.event(log, "action_server_warm")
        return []
