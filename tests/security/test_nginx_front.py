"""Issue 12, the production front: Debian's nginx with deploy/nginx/ks1bot.conf (rendered
by `ks1bot deploy nginx`), TLS with a certificate openssl makes here, in front of the
live bot on loopback. Only the public paths get through; bodies above 64 KB and bursts
from one address are refused; the legitimate paths work end to end, the widget in
Chromium over TLS and websockets included."""
from __future__ import annotations

import json
import time
import urllib.parse
import uuid

import pytest

from tests.support.nginx import Nginx
from tests.support.public_clients import customer_token, http, rest, signed_call


@pytest.fixture(scope="module")
def front(live_bot, tmp_path_factory):
    nginx = Nginx(tmp_path_factory.mktemp("nginx"), rasa=f"127.0.0.1:{live_bot.rasa_port}",
                  console=f"127.0.0.1:{live_bot.console_port}").start()
    yield nginx
    nginx.stop()


def get(front, path, **kwargs):
    return http(f"{front.url}{path}", method=kwargs.pop("method", "GET"), context=front.ssl_context(), **kwargs)


@pytest.mark.slow
def test_the_public_paths_work_through_nginx_with_tls(live_bot, front):
    status, body, _ = rest(live_bot, {"sender": f"tls-{uuid.uuid4().hex}", "message": "Guten Tag"},
                           base=front.url, context=front.ssl_context())
    assert status == 200 and body[0]["text"].startswith("Guten Tag")
    status, body, _ = signed_call(live_bot, {"call_id": f"c-{uuid.uuid4().hex}", "caller": "+498912345678",
                                             "transcript": "wir brauchen eine vpn verbindung zur filiale"},
                                  base=front.url, context=front.ssl_context())
    assert status == 200 and body["route"] == "exclude"
    for path in ("/widget/ks1-widget.js", "/widget/vendor/webchat.js", "/socket.io/?EIO=4&transport=polling"):
        assert get(front, path)[0] == 200, path
    status, _, headers = http(f"http://127.0.0.1:{front.http_port}/webhooks/rest/webhook", method="GET")
    assert status == 301 and headers["Location"].startswith("https://")


@pytest.mark.slow
@pytest.mark.parametrize("method, path", [
    ("GET", "/status?token={token}"),
    ("GET", "/conversations/conv-handoff/tracker?token={token}"),
    ("POST", "/model/parse?token={token}"),
    ("DELETE", "/model?token={token}"),
    ("PUT", "/model?token={token}"),
    ("POST", "/conversations/x/trigger_intent?token={token}"),
    ("GET", "/"),
    ("GET", "/version"),
    ("GET", "/webhooks/rest/"),
    ("GET", "/console/login"),
    ("GET", "/console/api/handoffs"),
    ("GET", "/widget/demo"),
    ("GET", "/socket.io/../status?token={token}"),
    ("GET", "/socket.io/%2e%2e/status?token={token}"),
    ("GET", "/widget/../console/login"),
])
def test_nothing_internal_gets_through_nginx_even_with_the_token(live_bot, front, method, path):
    token = live_bot.secrets["KS1BOT_RASA_TOKEN"]
    status, body, _ = get(front, path.format(token=token), method=method,
                          body=b"{}" if method in ("POST", "PUT") else None)
    assert status in (403, 404, 400), (path, status, body)
    assert "model_file" not in json.dumps(body) and "sender_id" not in json.dumps(body)


@pytest.mark.slow
def test_nginx_refuses_bodies_above_64_kb(live_bot, front):
    status, body, _ = rest(live_bot, {"sender": "big", "message": "x" * 100_000}, base=front.url,
                           context=front.ssl_context())
    assert status == 413 and "64 KB" in body["error"]


@pytest.mark.slow
def test_nginx_limits_the_rate_per_client_address(live_bot, front):
    statuses, retry = [], None
    for _ in range(40):
        status, _, headers = get(front, "/webhooks/call", method="POST", body=b"{}",
                                 headers={"Content-Type": "application/json"})
        statuses.append(status)
        retry = retry or headers.get("Retry-After")
    assert 401 in statuses and 429 in statuses  # unsigned: the bot's 401 until nginx's limit
    assert retry == "1"
    time.sleep(4)  # the bucket refills: later requests pass again


@pytest.mark.slow
def test_the_access_log_keeps_no_session_ids(live_bot, front):
    secret_query = f"session_id=w{'a' * 32}.{'b' * 16}.{'c' * 32}&since=0"
    get(front, f"/widget/missed?{secret_query}")
    time.sleep(0.5)
    log = front.access_log.read_text()
    assert "/widget/missed" in log and "session_id" not in log


@pytest.mark.slow
def test_the_widget_through_nginx_with_tls_and_a_signed_token(live_bot, front, ks1web):
    from browser import browser, screenshot
    from channels.test_widget_browser import conversation_of, open_ks1web, say

    token = customer_token(live_bot, "C1004", email="e.berger@alpen-handel.at", name="Eva Berger")
    with browser(ignore_https_errors=True) as context:
        page = open_ks1web(context, ks1web, live_bot, token, base=front.url, server=front.url)
        reply = say(page, "Wie lege ich in KS1 einen neuen Kunden mit abweichender Lieferadresse an?")
        assert "umfasst sie leider nicht" in reply
        screenshot(page, "widget-through-nginx")
        conversation = conversation_of(page)
    query = urllib.parse.urlencode({"token": live_bot.secrets["KS1BOT_RASA_TOKEN"]})
    status, tracker, _ = http(f"{live_bot.rasa_url}/conversations/{conversation}/tracker?{query}", method="GET")
    user = [e for e in tracker["events"] if e.get("event") == "user"]
    assert user and user[-1]["metadata"]["ks1bot_identity"]["customer_id"] == "C1004"
    assert user[-1]["input_channel"] == "socketio"
    log = front.access_log.read_text()
    assert "/socket.io/" in log and "ks1_token" not in log  # the token stays out of the log
