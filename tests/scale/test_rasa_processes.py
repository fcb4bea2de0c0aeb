"""Two Rasa server processes (ks1bot serve --role rasa --workers 2) with two action
servers (--role actions --workers 2) on one PostgreSQL tracker store and a Redis lock
store: a conversation whose messages go to either process, even at the same moment,
is handled one message at a time in order, and stays silent after a handoff."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import EVAL_DIR, LIVE_SECRETS, ROOT
from tests.scale.conftest import wait_until
from tests.support import public_clients
from tests.support.ports import free_port

pytestmark = [pytest.mark.scale, pytest.mark.slow]


class Role:
    """`ks1bot serve --role ROLE --workers N` as a process manager starts it."""

    def __init__(self, root: Path, role: str, args, env) -> None:
        self.log_path = root / f"{role}.log"
        log = open(self.log_path, "w")
        self.process = subprocess.Popen(
            [str(Path(sys.executable).with_name("ks1bot")), "--settings", str(root / "settings.yml"), "serve",
             "--role", role, *args], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)

    def wait_up(self, timeout: float = 600) -> None:
        def up():
            if self.process.poll() is not None:
                raise AssertionError(self.log_path.read_text()[-4000:])
            return "KS1 bot is up" in self.log_path.read_text()
        wait_until(up, timeout, 1, what=f"{self.log_path.stem} up")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(90)


class Bot:
    secrets = LIVE_SECRETS

    def __init__(self, rasa_urls) -> None:
        self.rasa_urls = rasa_urls
        self.rasa_url = rasa_urls[0]


@pytest.fixture(scope="module")
def two_rasas(pg, redis_server, tmp_path_factory, trained_model):
    root = tmp_path_factory.mktemp("rasa2")
    (root / "settings.yml").write_text(
        f"customers: {EVAL_DIR / 'customers.csv'}\nmodels_dir: {ROOT / 'models'}\n"
        f"knowledge_dir: {ROOT / 'data' / 'knowledge'}\ndata_dir: {root / 'var'}\n"
        "our_addresses: [support@ks1-support.example]\nself_service: always\n")
    database = pg.database()
    rasa_port, actions_port = free_port(), free_port()
    while actions_port + 1 in (rasa_port, rasa_port + 1) or rasa_port + 1 == actions_port:
        actions_port = free_port()
    env = {**os.environ, **LIVE_SECRETS, "KS1BOT_DATABASE_URL": database, "KS1BOT_REDIS_URL": redis_server.url,
           "KS1BOT_ACTIONS_URL": f"http://127.0.0.1:{actions_port}/webhook,"
                                 f"http://127.0.0.1:{actions_port + 1}/webhook"}
    actions = Role(root, "actions", ["--workers", "2", "--actions-port", str(actions_port)], env)
    roles = [actions]
    try:
        actions.wait_up()
        rasa = Role(root, "rasa", ["--workers", "2", "--rasa-port", str(rasa_port)], env)
        roles.append(rasa)
        rasa.wait_up()
        yield Bot([f"http://127.0.0.1:{rasa_port}", f"http://127.0.0.1:{rasa_port + 1}"]), database, \
            (actions_port, actions_port + 1)
    finally:
        for role in reversed(roles):
            role.stop()


def say(bot, base, conversation, text):
    status, body, _ = public_clients.rest(bot, {"sender": conversation, "message": text}, base=base, timeout=120)
    assert status == 200, body
    return body


def tracker_events(bot, base, conversation):
    status, body, _ = public_clients.http(
        f"{base}/conversations/{conversation}/tracker?token={LIVE_SECRETS['KS1BOT_RASA_TOKEN']}", method="GET")
    assert status == 200, body
    return body["events"]


def turns(events):
    """The tracker as turns: each user message with the bot's actions up to its action_listen."""
    found, current = [], None
    for event in events:
        if event["event"] == "user":
            assert current is None or current["closed"], f"a message began before the last one ended: {current}"
            current = {"text": event["text"], "closed": False}
            found.append(current)
        elif event["event"] == "action" and event.get("name") == "action_listen" and current is not None:
            current["closed"] = True
    return found


def test_two_rasa_processes_keep_a_conversations_order_and_the_handoff_silence(two_rasas):
    bot, database, action_ports = two_rasas
    first, second = bot.rasa_urls
    # one after the other, alternating between the processes: every reply, in order
    texts = ["Guten Tag!", "Wie bekomme ich das neue KS1 Update?", "Was deckt der Supportvertrag ab?",
             "Wann ist der Support erreichbar?"]
    for n, text in enumerate(texts):
        assert say(bot, bot.rasa_urls[n % 2], "order-1", text), text
    seen = turns(tracker_events(bot, second, "order-1"))
    assert [t["text"] for t in seen] == texts and all(t["closed"] for t in seen)

    # at the same moment on both processes: Redis's lock lets one message through at a time
    burst = [f"Frage {n}: wie bekomme ich das KS1 Update?" for n in range(6)]
    answers = {}

    def send(n):
        answers[n] = say(bot, bot.rasa_urls[n % 2], "order-2", burst[n])

    threads = [threading.Thread(target=send, args=(n,)) for n in range(len(burst))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    assert sorted(answers) == list(range(len(burst))) and all(answers.values())
    seen = turns(tracker_events(bot, first, "order-2"))      # raises on an interleaved turn
    assert sorted(t["text"] for t in seen) == sorted(burst) and all(t["closed"] for t in seen)

    # a handoff opened through one process silences the bot on the other
    handoff = say(bot, first, "handoff-1", "Ich hätte gern einen Rückruf von einem Mitarbeiter.")
    assert any("custom" in r and r["custom"]["ks1bot"]["route"] == "handoff" for r in handoff)
    assert say(bot, second, "handoff-1", "Hallo? Ist da jemand?") == []
    assert say(bot, first, "handoff-1", "Bitte schnell!") == []
    assert say(bot, second, "other-1", "Guten Tag!")            # other conversations are answered

    # everything is in PostgreSQL: Rasa's tracker (events) and the handoff
    from sqlalchemy import create_engine, text

    engine = create_engine(database, future=True)
    with engine.connect() as db:
        senders = {r[0] for r in db.execute(text("SELECT DISTINCT sender_id FROM events"))}
        assert {"order-1", "order-2", "handoff-1", "other-1"} <= senders
        assert db.execute(text("SELECT COUNT(*) FROM handoffs WHERE conversation_id='handoff-1'")).scalar() == 1
    engine.dispose()
    # both action servers did work (Rasa process i calls action server i)
    for port in action_ports:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
            assert "ks1bot_messages_total{" in response.read().decode()


def test_every_role_process_answers_healthz_readyz_and_metrics(two_rasas):
    bot, _database, action_ports = two_rasas
    for base in bot.rasa_urls + [f"http://127.0.0.1:{p}" for p in action_ports]:
        for path in ("/healthz", "/readyz"):
            status, body, _ = public_clients.http(base + path, method="GET", timeout=30)
            assert status == 200, (base, path, body)
        assert body["ready"] is True and "database" in body["checks"]
    status, body, _ = public_clients.http(bot.rasa_urls[0] + "/readyz", method="GET")
    assert set(body["checks"]) == {"model", "database", "redis"}
    status, text, _ = public_clients.http(bot.rasa_urls[1] + "/metrics", method="GET")
    assert status == 200 and 'ks1bot_up{role="rasa"} 1' in text
    # the internal API keeps its token
    status, _, _ = public_clients.http(bot.rasa_urls[0] + "/conversations/order-1/tracker", method="GET")
    assert status == 401
