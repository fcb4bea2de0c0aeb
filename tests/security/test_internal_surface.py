"""Issue 12, "public vs internal": Rasa's HTTP API and the action server refuse everyone
without their credentials, CORS answers configured origins only, and every port the bot
opens listens on 127.0.0.1 — against `ks1bot serve` on loopback (the session's live bot)."""
from __future__ import annotations

import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from tests.support.public_clients import http, rest

#: Rasa's HTTP API (rasa/server.py), each with a body that would do harm if it were accepted.
API_CALLS = [
    ("GET", "/", None),
    ("GET", "/version", None),
    ("GET", "/status", None),
    ("GET", "/domain", None),
    ("GET", "/conversations/{c}/tracker", None),
    ("GET", "/conversations/{c}/story", None),
    ("POST", "/conversations/{c}/tracker/events", [{"event": "slot", "name": "handoff_id", "value": "1"}]),
    ("PUT", "/conversations/{c}/tracker/events", []),
    ("POST", "/conversations/{c}/execute", {"name": "action_route"}),
    ("POST", "/conversations/{c}/trigger_intent",
     {"name": "EXTERNAL_staff_reply", "entities": {"staff_text": "Ihr Passwort bitte", "staff_name": "Anna"}}),
    ("POST", "/conversations/{c}/predict", None),
    ("POST", "/conversations/{c}/messages", {"text": "hallo", "sender": "user"}),
    ("POST", "/model/parse", {"text": "hallo"}),
    ("POST", "/model/predict", []),
    ("POST", "/model/train", {}),
    ("POST", "/model/test/intents", {}),
    ("POST", "/model/test/stories", {}),
    ("DELETE", "/model", None),
]


class Sink(BaseHTTPRequestHandler):
    """Records every request: a server-side request forgery would show up here."""

    hits: list = []

    def do_GET(self):  # noqa: N802
        Sink.hits.append(self.path)
        self.send_response(404)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def conversation(live_bot):
    """A real REST conversation with customer text in its tracker."""
    conversation_id = f"sec-{uuid.uuid4().hex}"
    status, body, _ = rest(live_bot, {"sender": conversation_id, "message": "Meine Telefonnummer ist 0231 112233."})
    assert status == 200, body
    return conversation_id


@pytest.mark.slow
@pytest.mark.parametrize("token", [None, "wrong-token", ""])
def test_nothing_of_rasa_s_http_api_answers_without_its_token(live_bot, conversation, token):
    query = "" if token is None else f"?token={token}"
    for method, path, payload in API_CALLS:
        body = json.dumps(payload).encode() if payload is not None else None
        status, answer, _ = http(f"{live_bot.rasa_url}{path.format(c=conversation)}{query}", body,
                                 {"Content-Type": "application/json"}, method=method)
        assert status == 401, (method, path, status, answer)
        assert "0231" not in json.dumps(answer)


@pytest.mark.slow
def test_put_model_cannot_make_the_server_fetch_a_url_and_delete_model_cannot_unload_it(live_bot):
    sink = HTTPServer(("127.0.0.1", 0), Sink)
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{sink.server_port}/model.tar.gz"
        status, _, _ = http(f"{live_bot.rasa_url}/model", json.dumps({"model_server": {"url": url}}).encode(),
                            {"Content-Type": "application/json"}, method="PUT")
        assert status == 401
        assert http(f"{live_bot.rasa_url}/model", method="DELETE")[0] == 401
    finally:
        sink.shutdown()
    assert Sink.hits == []  # no request forgery
    status, body, _ = rest(live_bot, {"sender": f"sec-{uuid.uuid4().hex}", "message": "Guten Tag"})
    assert status == 200 and body[0]["text"].startswith("Guten Tag")  # the model is still loaded


@pytest.mark.slow
def test_the_token_opens_the_api_for_the_bot_s_own_processes(live_bot, conversation):
    token = live_bot.secrets["KS1BOT_RASA_TOKEN"]
    status, tracker, _ = http(f"{live_bot.rasa_url}/conversations/{conversation}/tracker?token={token}", method="GET")
    assert status == 200 and tracker["sender_id"] == conversation
    status, parse, _ = http(f"{live_bot.rasa_url}/model/parse?token={token}", json.dumps({"text": "hallo"}).encode(),
                            {"Content-Type": "application/json"})
    assert status == 200 and parse["intent"]["name"]


@pytest.mark.slow
def test_cors_answers_configured_origins_only(live_bot):
    allowed = live_bot.ks1web_origin
    def preflight(origin, path):
        return http(f"{live_bot.rasa_url}{path}", None, {
            "Origin": origin, "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type"}, method="OPTIONS")[2]

    for path in ("/socket.io/?EIO=4&transport=polling", "/webhooks/rest/webhook", "/conversations/x/tracker"):
        evil = preflight("https://evil.example", path)
        assert "Access-Control-Allow-Origin" not in evil and "Access-Control-Allow-Credentials" not in evil, path
    good = preflight(allowed, "/socket.io/?EIO=4&transport=polling")
    assert good.get("Access-Control-Allow-Origin") == allowed
    # a simple GET from another origin: no reflection of it, with or without credentials
    _, _, got = http(f"{live_bot.rasa_url}/socket.io/?EIO=4&transport=polling", None,
                     {"Origin": "https://evil.example"}, method="GET")
    assert got.get("Access-Control-Allow-Origin") not in ("https://evil.example", "*")


# -- the action server --------------------------------------------------------------------
def forged_call(conversation: str) -> dict:
    """What an attacker would post: a tracker whose latest message asks for a call back."""
    latest = {"text": "Bitte rufen Sie mich sofort zurück", "intent": {"name": "request_human", "confidence": 0.99},
              "intent_ranking": [{"name": "request_human", "confidence": 0.99}], "entities": [],
              "metadata": {"channel": "call", "sender": "+4915112345678"}}
    return {"next_action": "action_route", "sender_id": conversation, "version": "3.6.2", "domain": {},
            "tracker": {"sender_id": conversation, "slots": {}, "latest_message": latest, "paused": False,
                        "events": [{"event": "user", "text": latest["text"], "parse_data": latest,
                                    "input_channel": "call"}],
                        "followup_action": None, "active_loop": {}, "latest_action_name": "action_listen"}}


@pytest.mark.slow
@pytest.mark.parametrize("credential", [None, "?token=wrong", "?token="])
def test_the_action_server_refuses_to_run_an_action_without_its_secret(live_bot, credential):
    conversation = f"forged-{uuid.uuid4().hex}"
    url = f"http://127.0.0.1:{live_bot.actions_port}/webhook{credential or ''}"
    status, body, _ = http(url, json.dumps(forged_call(conversation)).encode(), {"Content-Type": "application/json"})
    assert status == 401, body
    assert live_bot.handoffs().open_handoff_for("call", conversation) is None
    assert http(f"http://127.0.0.1:{live_bot.actions_port}/actions", method="GET")[0] == 401
    assert http(f"http://127.0.0.1:{live_bot.actions_port}/health", method="GET")[0] == 200


@pytest.mark.slow
def test_the_action_server_runs_actions_for_rasa_with_the_secret(live_bot):
    """The same forged body with the secret is what Rasa sends: it runs (so the refusal
    above is the secret's doing, not a broken body)."""
    conversation = f"with-secret-{uuid.uuid4().hex}"
    token = live_bot.secrets["KS1BOT_ACTIONS_TOKEN"]
    status, body, _ = http(f"http://127.0.0.1:{live_bot.actions_port}/webhook?token={token}",
                           json.dumps(forged_call(conversation)).encode(), {"Content-Type": "application/json"})
    assert status == 200 and body["responses"], body
    handoff = live_bot.handoffs().open_handoff_for("call", conversation)
    assert handoff is not None
    assert live_bot.handoffs().resolve(handoff, "test", f"cleanup-{conversation}").ok


# -- listening sockets ----------------------------------------------------------------------
def _descendants(pid: int):
    children = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [pid], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def listening_sockets(pids):
    """(address, port) of every TCP socket in LISTEN state the processes hold (/proc)."""
    inodes = set()
    for pid in pids:
        try:
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                try:
                    target = fd.readlink() if hasattr(fd, "readlink") else Path(__import__("os").readlink(fd))
                except OSError:
                    continue
                if str(target).startswith("socket:["):
                    inodes.add(str(target)[8:-1])
        except OSError:
            continue
    found = []
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state != "0A" or inode not in inodes:  # 0A: LISTEN
                continue
            address, port = local.split(":")
            if width == 8:
                ip = ".".join(str(int(address[i:i + 2], 16)) for i in (6, 4, 2, 0))
            else:
                words = [address[i:i + 8] for i in range(0, 32, 8)]
                raw = b"".join(bytes.fromhex(w)[::-1] for w in words)
                import ipaddress

                ip = str(ipaddress.IPv6Address(raw))
            found.append((ip, int(port, 16)))
    return found


@pytest.mark.slow
def test_every_port_the_bot_opens_listens_on_loopback_only(live_bot):
    sockets = listening_sockets(_descendants(live_bot.process.pid))
    ports = {port for _, port in sockets}
    assert {live_bot.rasa_port, live_bot.actions_port, live_bot.console_port, live_bot.smtp_port} <= ports, sockets
    assert all(ip == "127.0.0.1" for ip, _ in sockets), sockets


def test_make_run_s_defaults_bind_every_documented_port_to_loopback(settings, tmp_path):
    """`make run` (ks1bot serve without flags): Rasa 5005, actions 5055, console 8000, SMTP 2525."""
    from ks1bot.app.serve import MAIL_SMTP_LISTEN, Ports, services
    from ks1bot.core.settings import parse_settings

    defaults = parse_settings({"data_dir": str(tmp_path)}, base_dir=tmp_path)
    commands = {s.name: s.command for s in services(defaults, tmp_path / "model.tar.gz", Ports(), env={})}

    def option(name, flag):
        command = commands[name]
        return command[command.index(flag) + 1]

    assert (option("rasa", "--interface"), option("rasa", "--port")) == ("127.0.0.1", "5005")
    assert (option("actions", "--host"), option("actions", "--port")) == ("127.0.0.1", "5055")
    assert (option("console", "--host"), option("console", "--port")) == ("127.0.0.1", "8000")
    assert option("mail", "--smtp-listen") == MAIL_SMTP_LISTEN == "127.0.0.1:2525"
    assert "*" not in commands["rasa"]  # CORS: the console's origin, not everyone
    assert option("rasa", "--cors") == "http://127.0.0.1:8000"
    opened = {s.name: s.command for s in services(defaults, tmp_path / "m", Ports(rasa_host="0.0.0.0"), env={})}
    assert opened["rasa"][opened["rasa"].index("--interface") + 1] == "0.0.0.0"  # only when asked for
