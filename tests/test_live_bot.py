"""`ks1bot serve` (what `make run` starts): REST webhook answers like `ks1bot route`."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import EVAL_DIR, ROOT
from ks1bot.messages import parse_route_line

KS1BOT = str(Path(sys.executable).with_name("ks1bot"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(url, payload, timeout=60):
    request = urllib.request.Request(url, data=json.dumps(payload).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


@pytest.fixture(scope="module")
def live_bot(tmp_path_factory, trained_model):
    tmp = tmp_path_factory.mktemp("live")
    settings = tmp / "settings.yml"
    settings.write_text(
        f"customers: {EVAL_DIR / 'customers.csv'}\nmodels_dir: {ROOT / 'models'}\n"
        f"knowledge_dir: {ROOT / 'data' / 'knowledge'}\ndata_dir: {tmp / 'var'}\n"
    )
    rasa_port, actions_port, console_port = free_port(), free_port(), free_port()
    log = open(tmp / "serve.log", "w")
    process = subprocess.Popen(
        [KS1BOT, "--settings", str(settings), "serve", "--rasa-port", str(rasa_port),
         "--actions-port", str(actions_port), "--console-port", str(console_port)],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ),
    )
    deadline = time.monotonic() + 420
    url = f"http://127.0.0.1:{rasa_port}"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError((tmp / "serve.log").read_text()[-4000:])
        if "KS1 bot is up" in (tmp / "serve.log").read_text():
            break
        time.sleep(1)
    else:
        process.terminate()
        raise AssertionError("the bot did not start in time:\n" + (tmp / "serve.log").read_text()[-4000:])
    yield url
    process.terminate()
    process.wait(timeout=60)
    log.close()


def rest(url, conversation, text, **metadata):
    replies = post(f"{url}/webhooks/rest/webhook", {"sender": conversation, "message": text, "metadata": metadata})
    texts = [r["text"] for r in replies if "text" in r]
    decisions = [r["custom"]["ks1bot"] for r in replies if "custom" in r]
    return "\n\n".join(texts), (decisions[0] if decisions else None)


@pytest.mark.slow
def test_rest_webhook_gives_the_same_decision_and_reply_as_route(live_bot, router):
    chats = [json.loads(l) for l in open(EVAL_DIR / "dev.jsonl") if json.loads(l)["channel"] == "chat"]
    assert len(chats) >= 5
    for number, row in enumerate(chats):
        expected = router.route(parse_route_line(json.dumps(row))).to_output()
        text, decision = rest(live_bot, f"conv-{number}", row["text"], received_at=row["received_at"],
                              sender=row["sender"], channel="chat")
        for key in ("topic", "route", "priority", "reasons", "language", "reply"):
            assert decision[key] == expected[key], (row["id"], key, decision[key], expected[key])
        assert text == expected["reply"]


@pytest.mark.slow
def test_bot_stays_silent_after_a_handoff(live_bot):
    text, decision = rest(live_bot, "conv-handoff", "Ich hätte gern einen Rückruf von einem Mitarbeiter.",
                          received_at="2026-11-17T11:20:00+01:00", sender="h.meier@meier-bau.de")
    assert decision["route"] == "handoff"
    assert "Mitarbeiter" in text
    follow_up = post(f"{live_bot}/webhooks/rest/webhook",
                     {"sender": "conv-handoff", "message": "Hallo? Ist da jemand?"})
    assert follow_up == []
    # Another conversation is not affected.
    other, _ = rest(live_bot, "conv-other", "Guten Tag!")
    assert other.startswith("Guten Tag!")
