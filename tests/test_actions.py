"""action_route with a real Tracker and CollectingDispatcher; the routing code and the
conversation record behind it are real."""
from __future__ import annotations

import pytest
from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import actions
from ks1bot.nlu.router import Router


def parse(topic, confidence=0.97, text="…"):
    return {
        "text": text,
        "intent": {"name": topic, "confidence": confidence},
        "intent_ranking": [{"name": topic, "confidence": confidence}, {"name": "greeting", "confidence": 0.01}],
        "entities": [],
        "metadata": {},
    }


#: What the web channels put into the metadata for a customer token signed by KS1 web.
MEIER = {"customer_id": "C1001", "name": "Hans Meier", "email": "h.meier@meier-bau.de"}


def tracker(latest, slots=None, sender="h.meier@meier-bau.de", input_channel="rest"):
    events = [{"event": "user", "text": latest.get("text"), "input_channel": input_channel}] if latest else []
    return Tracker(sender, slots or {}, latest, events, False, None, {}, "action_listen")


@pytest.fixture
def store(tmp_path, settings):
    from ks1bot.app import wiring

    return wiring.handoff_store(settings.with_overrides(data_dir=tmp_path), url=f"sqlite:///{tmp_path / 'handoffs.db'}")


@pytest.fixture
def router(settings, eval_customers, knowledge, store):
    r = Router(settings, eval_customers, knowledge)
    actions.set_router(r, store)
    yield r
    actions.set_router(None, None)


def test_exclusion_reply_and_decision(router):
    latest = parse("hardware", text="Unser Etikettendrucker ist kaputt, welchen sollen wir kaufen?")
    latest["metadata"] = {"received_at": "2026-11-17T11:20:00+01:00", "channel": "chat", "ks1bot_identity": MEIER}
    dispatcher = CollectingDispatcher()
    events = actions.ActionRoute().run(dispatcher, tracker(latest), {})
    assert len(dispatcher.messages) == 1
    message = dispatcher.messages[0]
    assert "Hardware" in message["text"] and "Systemadministrator" in message["text"]
    decision = message["custom"]["ks1bot"]
    assert decision["route"] == "exclude" and decision["topic"] == "hardware"
    assert "customer:C1001" in decision["reasons"]
    assert SlotSet("last_route", "exclude") in events
    assert not any(e.get("name") == "handoff_id" for e in events)


def test_handoff_sets_the_slot_and_the_bot_then_stays_silent(router, store):
    latest = parse("bug_report", text="KS1 stürzt beim Buchen ab")
    latest["metadata"] = {"received_at": "2026-11-17T21:05:00+01:00", "ks1bot_identity": MEIER}
    dispatcher = CollectingDispatcher()
    events = actions.ActionRoute().run(dispatcher, tracker(latest), {})
    decision = dispatcher.messages[0]["custom"]["ks1bot"]
    assert decision["route"] == "handoff"
    assert "am Mittwoch, 18. November, ab 08:30 Uhr" in dispatcher.messages[0]["text"]
    handoff = [e for e in events if e.get("name") == "handoff_id"]
    assert handoff and handoff[0]["value"]
    assert decision["handoff_id"] == int(handoff[0]["value"])
    queued = store.get(int(handoff[0]["value"]))
    assert (queued.channel, queued.topic, queued.customer_id, queued.status) == ("chat", "bug_report", "C1001", "open")
    assert queued.messages[0].text == "KS1 stürzt beim Buchen ab"

    later = CollectingDispatcher()
    follow_up = actions.ActionRoute().run(later, tracker(parse("greeting", text="Hallo?"),
                                                         slots={"handoff_id": handoff[0]["value"]}), {})
    assert later.messages == []
    assert follow_up == []
    assert [m.text for m in store.get(queued.id).messages if m.direction == "customer"] == [
        "KS1 stürzt beim Buchen ab", "Hallo?"]


def test_the_record_decides_silence_not_the_slot(router, store):
    """The handoff store is the one record: with staff even when the slot is empty, with
    the bot again after a hand-back even when the slot still holds the handoff id."""
    from tests.support.handoffs import new_handoff

    handoff = new_handoff(store, channel="chat", conversation_id="h.meier@meier-bau.de", sender="h.meier@meier-bau.de")
    silent = CollectingDispatcher()
    latest = parse("greeting", text="Hallo, ist da jemand?")
    latest["metadata"] = {"channel": "chat"}
    assert actions.ActionRoute().run(silent, tracker(latest, slots={"handoff_id": None}), {}) == []
    assert silent.messages == []
    assert store.get(handoff).messages[-1].text == "Hallo, ist da jemand?"

    assert store.hand_back(handoff, "anna", "form-1").ok
    answered = CollectingDispatcher()
    events = actions.ActionRoute().run(answered, tracker(latest, slots={"handoff_id": str(handoff)}), {})
    assert answered.messages and answered.messages[0]["custom"]["ks1bot"]["route"] == "answer"
    assert SlotSet("last_route", "answer") in events


def test_a_call_in_a_handoff_hears_that_staff_have_it(router, store):
    from tests.support.handoffs import new_handoff

    handoff = new_handoff(store, channel="call", conversation_id="call-7", sender="+4923112233")
    latest = parse("greeting", text="hallo noch da")
    latest["metadata"] = {"channel": "call", "sender": "+4923112233"}
    dispatcher = CollectingDispatcher()
    actions.ActionRoute().run(dispatcher, tracker(latest, sender="call-7", input_channel="call"), {})
    decision = dispatcher.messages[0]["custom"]["ks1bot"]
    assert decision["handoff_id"] == handoff and decision["reasons"] == ["in_handoff"]
    assert "bereits bei einem Mitarbeiter" in dispatcher.messages[0]["text"]


def test_a_call_s_caller_is_its_customer(router):
    latest = parse("greeting", text="hallo")
    latest["metadata"] = {"channel": "call", "sender": "+4923112233"}
    dispatcher = CollectingDispatcher()
    actions.ActionRoute().run(dispatcher, tracker(latest, sender="call-8", input_channel="call"), {})
    assert "customer:C1001" in dispatcher.messages[0]["custom"]["ks1bot"]["reasons"]


@pytest.mark.parametrize("metadata", [
    {},
    {"channel": "chat", "sender": "h.meier@meier-bau.de"},
    {"channel": "chat", "customData": {"sender": "+4923112233", "customer_id": "C1001"}},
    # a web client claiming to be the phone channel: only the phone channel's own metadata counts
    {"channel": "call", "sender": "+4923112233"},
])
def test_without_a_signed_identity_a_chat_is_an_unknown_customer(router, metadata):
    """Issue 12: client-supplied sender ids and metadata never decide the customer (and so
    the entitlement); the conversation id does not either."""
    latest = parse("greeting", text="Hallo")
    latest["metadata"] = metadata
    dispatcher = CollectingDispatcher()
    actions.ActionRoute().run(dispatcher, tracker(latest, sender="+4923112233"), {})
    decision = dispatcher.messages[0]["custom"]["ks1bot"]
    assert decision["route"] == "answer"
    assert "unknown_customer" in decision["reasons"] and "customer:C1001" not in decision["reasons"]


def test_a_signed_identity_decides_the_customer_and_entitlement(router):
    """C1004 has an update contract: its operating questions are not covered (SPEC §4)."""
    latest = parse("operating_question", text="Wie lege ich in KS1 einen neuen Artikel an?")
    latest["metadata"] = {"channel": "chat", "ks1bot_identity": {"customer_id": "C1004", "email": "x@alpen-handel.at"}}
    dispatcher = CollectingDispatcher()
    actions.ActionRoute().run(dispatcher, tracker(latest, sender="w0123"), {})
    decision = dispatcher.messages[0]["custom"]["ks1bot"]
    assert "customer:C1004" in decision["reasons"] and decision["route"] == "exclude"
    assert "not_entitled" in decision["reasons"]


def test_bad_metadata_does_not_break_the_action(router):
    latest = parse("greeting", text="Hallo")
    latest["metadata"] = {"received_at": "not a time", "channel": "fax"}
    dispatcher = CollectingDispatcher()
    actions.ActionRoute().run(dispatcher, tracker(latest), {})
    assert dispatcher.messages[0]["custom"]["ks1bot"]["route"] == "answer"


def test_warm_up_routes_once_per_channel_kind_and_leaves_no_trace(router, store, knowledge):
    knowledge._embedder.clear_cache()
    dispatcher = CollectingDispatcher()
    events = actions.ActionWarmUp().run(dispatcher, tracker({}, sender="ks1bot-warm-up"), {})
    assert events == [] and dispatcher.messages == []
    assert store.list() == []  # nothing for staff to see
    # the embedding model ran on the sample text: the first customer does not pay for it
    assert knowledge._embedder._cache


def test_the_widget_s_opening_greeting_is_small_talk_even_with_a_parser(settings, eval_customers, knowledge, store):
    """The widget opens with the intent payload "/greeting": no words to parse again, so the
    Rasa server's parse decides (a parser for the requests of a message is configured)."""

    parsed = []

    class LowConfidence:  # what the Rasa server makes of an empty text
        def parse(self, text):
            parsed.append(text)
            return {"text": text, "intent": {"name": "greeting", "confidence": 0.2},
                    "intent_ranking": [{"name": "greeting", "confidence": 0.2}]}

    actions.set_router(Router(settings, eval_customers, knowledge, parser=LowConfidence()), store)
    try:
        latest = parse("greeting", confidence=1.0, text="/greeting")
        latest["metadata"] = {"channel": "chat", "page_language": "de"}
        dispatcher = CollectingDispatcher()
        actions.ActionRoute().run(dispatcher, tracker(latest, sender="widget-session-1"), {})
    finally:
        actions.set_router(None, None)
    assert parsed == []
    assert dispatcher.messages[0]["custom"]["ks1bot"]["route"] == "answer"
    assert store.list() == []
