"""Issue 12, widget sessions: the bot issues them and binds them to the customer of KS1
web's token; `session_request` and `/widget/missed` give nothing of a session that is not
yours; client-supplied data never decides the customer. Real socket.io clients against
the live bot."""
from __future__ import annotations

import asyncio
import json
import urllib.parse
import uuid

import pytest

from tests.support.public_clients import customer_token, http

#: Exclusions: the bot answers them at any time of day and stays in the conversation.
VICTIM_TEXT = "Unser Etikettendrucker Nr. {} im Lager druckt nur leere Seiten, welchen sollen wir kaufen?"
VICTIM_AGAIN = "Können Sie uns beim Einrichten des VPN zu unserer Filiale helfen?"


class Widget:
    """One browser's socket.io connection, as rasa-webchat makes it."""

    def __init__(self, bot, token=None, auth=None):
        self.bot, self.token, self.auth = bot, token, auth
        self.said: list = []
        self.confirmed: "asyncio.Queue" = asyncio.Queue()
        self.client = None

    async def __aenter__(self):
        import socketio

        self.client = socketio.AsyncClient(reconnection=False)
        self.client.on("bot_uttered", lambda data: self.said.append(data.get("text", "")))
        self.client.on("session_confirm", lambda data: self.confirmed.put_nowait(data))
        url = self.bot.rasa_url + (f"/?ks1_token={urllib.parse.quote(self.token)}" if self.token else "")
        await self.client.connect(url, socketio_path="/socket.io/", transports=["polling"], wait_timeout=60,
                                  auth=self.auth)
        return self

    async def __aexit__(self, *exc):
        await self.client.disconnect()

    async def session(self, session_id=None) -> str:
        await self.client.emit("session_request", {"session_id": session_id})
        return await asyncio.wait_for(self.confirmed.get(), 60)

    async def say(self, text, session_id="whatever", wait=True, **custom):
        before = len(self.said)
        await self.client.emit("user_uttered", {"message": text, "session_id": session_id,
                                                "customData": {"channel": "chat", "page_language": "de", **custom}})
        if wait:
            for _ in range(600):
                if len(self.said) > before:
                    await asyncio.sleep(1.0)  # the rest of a multi-part answer
                    break
                await asyncio.sleep(0.2)
        return "\n".join(self.said[before:])


def tracker_texts(bot, conversation):
    token = bot.secrets["KS1BOT_RASA_TOKEN"]
    status, tracker, _ = http(f"{bot.rasa_url}/conversations/{conversation}/tracker?token={token}", method="GET")
    assert status == 200
    return [e.get("text") or "" for e in tracker["events"] if e.get("event") in ("user", "bot")], tracker


def missed(bot, session_id, headers=None):
    query = urllib.parse.urlencode({"session_id": session_id, "since": 0})
    return http(f"{bot.console_url}/widget/missed?{query}", None, headers or {}, method="GET")


@pytest.mark.slow
def test_session_request_with_a_victim_s_session_gives_nothing_of_it(live_bot):
    case = uuid.uuid4().hex[:8]

    async def scenario():
        token = customer_token(live_bot, "C1001", email="h.meier@meier-bau.de", name="Hans Meier")
        async with Widget(live_bot, token) as victim:
            credential = await victim.session()
            conversation = credential.split(".")[0]
            assert "Hardware" in await victim.say(VICTIM_TEXT.format(case), credential)
            # the attacker knows the credential itself (stolen) — anonymously, with another
            # customer's token, and with only the conversation id
            other = customer_token(live_bot, "C1002", email="x@sonnenschein-elektro.de")
            for attacker_token, presented in ((None, credential), (other, credential),
                                              (None, conversation), (None, f"{conversation}.0.0")):
                async with Widget(live_bot, attacker_token) as attacker:
                    got = await attacker.session(presented)
                    assert got != presented and got.split(".")[0] != conversation
                    # a message naming the victim's session lands in the attacker's own conversation
                    await attacker.say("Hier spricht der Chef, bitte alles an mich.", session_id=credential)
                    # the victim writes again while the attacker is connected, and gets the answer
                    assert "Netzwerk" in await victim.say(VICTIM_AGAIN, credential)
                    await asyncio.sleep(2)
                    assert not any("Netzwerk" in t or "Hardware" in t for t in attacker.said), attacker.said
                    attacker_conversation = got.split(".")[0]
            return conversation, attacker_conversation

    conversation, attacker_conversation = asyncio.run(scenario())
    victim_texts, _ = tracker_texts(live_bot, conversation)
    assert not any("Chef" in t for t in victim_texts)
    attacker_texts, _ = tracker_texts(live_bot, attacker_conversation)
    assert any("Chef" in t for t in attacker_texts) and not any(case in t for t in attacker_texts)


@pytest.mark.slow
def test_the_owner_gets_the_same_session_back_and_another_user_a_new_one(live_bot):
    async def scenario():
        token = customer_token(live_bot, "C1001", email="h.meier@meier-bau.de")
        async with Widget(live_bot, token) as first:
            credential = await first.session()
            assert await first.say("Wie spiele ich das neue KS1-Update ein?", credential)
        async with Widget(live_bot, auth={"token": token}) as again:  # a reload (token via `auth` this time)
            assert await again.session(credential) == credential
        async with Widget(live_bot) as anonymous:  # the same browser after the user logged out of KS1 web
            assert await anonymous.session(credential) != credential
        return credential.split(".")[0]

    conversation = asyncio.run(scenario())
    _, tracker = tracker_texts(live_bot, conversation)
    user = [e for e in tracker["events"] if e.get("event") == "user"][-1]
    assert user["metadata"]["ks1bot_identity"]["customer_id"] == "C1001"
    assert "ks1_token" not in json.dumps(tracker)  # the token itself is never stored


@pytest.mark.slow
def test_client_data_never_decides_the_customer_of_a_widget_session(live_bot):
    """C1004 has an update contract: with its signed token an operating question is not
    covered; forged customData for C1004 in an anonymous session changes nothing."""
    question = "Wie lege ich in KS1 einen neuen Kunden mit abweichender Lieferadresse an?"

    async def scenario():
        async with Widget(live_bot, customer_token(live_bot, "C1004", email="e@alpen-handel.at")) as signed:
            await signed.session()
            with_token = await signed.say(question)
        async with Widget(live_bot) as forged:
            await forged.session()
            without = await forged.say(question, customer_id="C1004", sender="e@alpen-handel.at")
        return with_token, without

    with_token, without = asyncio.run(scenario())
    assert "umfasst sie leider nicht" in with_token
    assert "umfasst sie leider nicht" not in without


@pytest.mark.slow
def test_widget_missed_answers_only_the_owner_of_a_session(live_bot):
    async def scenario():
        async with Widget(live_bot) as owner:
            credential = await owner.session()
            await owner.say("Guten Tag!", credential)
        return credential

    credential = asyncio.run(scenario())
    conversation = credential.split(".")[0]
    status, body, _ = missed(live_bot, credential)
    assert status == 200 and any("KS1-Support" in m["text"] for m in body["messages"])
    for stranger in (conversation, f"{conversation}.{'0' * 16}.{'0' * 32}", "h.meier@meier-bau.de", "c-4711"):
        status, body, _ = missed(live_bot, stranger)
        assert status == 403 and "messages" not in body, (stranger, body)
    # a REST conversation id needs the REST client's key
    status, body, _ = missed(live_bot, "conv-handoff")
    assert status == 403
    key = live_bot.secrets["KS1BOT_REST_API_KEY"]
    assert missed(live_bot, conversation, {"Authorization": f"Bearer {key}"})[0] == 200
    assert missed(live_bot, "any-rest-conversation", {"Authorization": "Bearer wrong"})[0] == 403


@pytest.mark.slow
def test_widget_limits_size_and_speed(live_bot):
    async def scenario():
        async with Widget(live_bot) as widget:
            await widget.session()
            too_long = await widget.say("x" * (70 * 1024))
            for n in range(25):  # one by one (engine.io takes at most 16 messages in one request)
                await widget.say(f"Hallo {n}", wait=False)
                await asyncio.sleep(0.1)
            await asyncio.sleep(15)
            return too_long, list(widget.said)

    too_long, said = asyncio.run(scenario())
    assert "zu lang" in too_long
    assert any("nicht so schnell" in t for t in said)
