"""100 widget sessions at once over the socket.io channel: everyone gets only their own answer."""
from __future__ import annotations

import asyncio
import uuid

import pytest

QUESTIONS = {
    "network": ("Unser VPN zur Filiale bricht ständig ab, können Sie helfen?", "betrifft Ihr Netzwerk"),
    "greeting": ("Guten Morgen!", "Hier ist der KS1-Support"),
    "training": ("Wir möchten für drei neue Kolleginnen eine KS1-Schulung buchen.", "betrifft eine Softwareschulung"),
    "hardware": ("Unser Etikettendrucker im Lager ist defekt, welchen sollen wir kaufen?", "betrifft Hardware"),
}


async def one_session(url: str, kind: str, results: dict) -> None:
    import socketio

    client = socketio.AsyncClient(reconnection=False)
    got = []
    confirmed: "asyncio.Queue" = asyncio.Queue()

    @client.on("bot_uttered")
    async def on_bot(data):
        got.append(data.get("text", ""))

    @client.on("session_confirm")
    async def on_confirm(data):
        confirmed.put_nowait(data)

    # Polling transport: Rasa's pinned aiohttp is too old for the client's websocket transport.
    await client.connect(url, socketio_path="/socket.io/", transports=["polling"], wait_timeout=240)
    # the bot issues the session (a session id the client names is not taken)
    await client.emit("session_request", {"session_id": f"load-{kind}-{uuid.uuid4().hex}"})
    # generous: this test is about crosstalk, not speed; 100 sessions share one event loop
    # that is routing the others' messages meanwhile (on a loaded machine that takes minutes)
    session = await asyncio.wait_for(confirmed.get(), 240)
    assert not session.startswith("load-")
    await client.emit("user_uttered", {"message": QUESTIONS[kind][0], "session_id": session,
                                       "customData": {"channel": "chat"}})
    deadline = asyncio.get_running_loop().time() + 240
    while not got and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.2)
    await asyncio.sleep(2)  # anything else that (wrongly) arrives for this session
    await client.disconnect()
    results[session] = (kind, got)


@pytest.mark.slow
def test_100_concurrent_sessions_have_no_crosstalk(live_bot):
    kinds = list(QUESTIONS) * 25
    results: dict = {}

    async def run_all():
        await asyncio.gather(*(one_session(live_bot.rasa_url, kind, results) for kind in kinds))

    asyncio.run(run_all())
    assert len(results) == 100
    for session, (kind, texts) in results.items():
        assert texts, f"{session} got no answer"
        joined = "\n".join(texts)
        assert QUESTIONS[kind][1] in joined, (kind, joined[:200])
        for other, (_, marker) in QUESTIONS.items():
            if other != kind:
                assert marker not in joined, f"{session} ({kind}) received a {other} answer"
