"""`ks1bot serve` (what `make run` starts): REST webhook answers like `ks1bot route`."""
from __future__ import annotations

import json
import urllib.request

import pytest

from conftest import EVAL_DIR
from ks1bot.core.messages import parse_route_line
from tests.support import public_clients


def post(bot, payload):
    """The REST webhook as a server-to-server client calls it (with the API key)."""
    status, body, _ = public_clients.rest(bot, payload, timeout=60)
    assert status == 200, body
    return body


def rest(bot, conversation, text, **metadata):
    replies = post(bot, {"sender": conversation, "message": text, "metadata": metadata})
    texts = [r["text"] for r in replies if "text" in r]
    decisions = [r["custom"]["ks1bot"] for r in replies if "custom" in r]
    return "\n\n".join(texts), (decisions[0] if decisions else None)


@pytest.mark.slow
def test_rest_webhook_gives_the_same_decision_and_reply_as_route(live_bot, router, eval_customers):
    """The customer comes from a token signed like KS1 web's (the sender's customer)."""
    chats = [json.loads(l) for l in open(EVAL_DIR / "dev.jsonl") if json.loads(l)["channel"] == "chat"]
    assert len(chats) >= 5
    for number, row in enumerate(chats):
        expected = router.route(parse_route_line(json.dumps(row))).to_output()
        match = eval_customers.match(row["sender"])
        identity = {"customer_token": public_clients.customer_token(
            live_bot, match.customer.customer_id, email=row["sender"])} if match else {}
        text, decision = rest(live_bot, f"conv-{number}", row["text"], received_at=row["received_at"],
                              channel="chat", **identity)
        for key in ("topic", "route", "priority", "reasons", "language", "reply"):
            assert decision[key] == expected[key], (row["id"], key, decision[key], expected[key])
        assert text == expected["reply"]


@pytest.mark.slow
def test_bot_stays_silent_after_a_handoff(live_bot):
    text, decision = rest(live_bot, "conv-handoff", "Ich hätte gern einen Rückruf von einem Mitarbeiter.",
                          received_at="2026-11-17T11:20:00+01:00")
    assert decision["route"] == "handoff"
    assert "Mitarbeiter" in text
    follow_up = post(live_bot, {"sender": "conv-handoff", "message": "Hallo? Ist da jemand?"})
    assert follow_up == []
    # Another conversation is not affected.
    other, _ = rest(live_bot, "conv-other", "Guten Tag!")
    assert other.startswith("Guten Tag!")


def wait_for(check, timeout=60.0):
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.3)
    raise AssertionError("timed out")


@pytest.mark.slow
def test_staff_reply_and_hand_back_reach_a_rest_conversation_through_the_outbox(live_bot):
    """The console only writes the outbox; the chat channel in the Rasa server delivers into
    the conversation's tracker (a REST client has no socket: /widget/missed finds it)."""
    import urllib.parse

    conversation = "conv-rest-outbox"
    _, decision = rest(live_bot, conversation, "Ich hätte gern einen Rückruf von einem Mitarbeiter.",
                       received_at="2026-11-17T11:20:00+01:00")
    assert decision["route"] == "handoff"
    store = live_bot.handoffs()
    handoff = decision["handoff_id"]
    assert store.open_handoff_for("chat", conversation) == handoff

    def missed():  # the REST client reads its own conversation with its API key
        query = urllib.parse.urlencode({"session_id": conversation, "since": 0})
        request = urllib.request.Request(f"{live_bot.console_url}/widget/missed?{query}", headers={
            "Authorization": f"Bearer {live_bot.secrets['KS1BOT_REST_API_KEY']}"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return "\n".join(m["text"] for m in json.loads(response.read())["messages"])

    assert store.reply(handoff, "anna", "Guten Tag, ich rufe Sie um 14 Uhr an. Anna", "rest-form-1").ok
    wait_for(lambda: "ich rufe Sie um 14 Uhr an" in missed())
    wait_for(lambda: [d.status for d in store.deliveries(handoff)] == ["sent"])
    assert post(live_bot, {"sender": conversation, "message": "Danke!"}) == []

    assert store.hand_back(handoff, "anna", "rest-form-2").ok
    wait_for(lambda: "wieder mit dem KS1-Bot verbunden" in missed())
    wait_for(lambda: [d.status for d in store.deliveries(handoff)] == ["sent", "sent"])
    text, decision = rest(live_bot, conversation, "Guten Tag!")
    assert decision["route"] == "answer" and text.startswith("Guten Tag!")
