"""The console over real HTTP: login, CSRF, actions, refusals, races, errors."""
from __future__ import annotations

import concurrent.futures
import re

import pytest
import requests

from .conftest import PASSWORD, form_tokens, login, new_handoff


def test_no_page_or_api_without_login(console):
    handoff = new_handoff(console.store)
    for path in ("/console", "/console/", f"/console/handoffs/{handoff}", "/console/handoffs/999"):
        response = requests.get(console.url + path, allow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == "/console/login", path
    for path in ("/console/api/handoffs", "/console/events"):
        response = requests.get(console.url + path)
        assert response.status_code == 401 and response.json()["error"] == "Bitte zuerst anmelden."
    response = requests.post(f"{console.url}/console/handoffs/{handoff}/claim", data={}, allow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/console/login"
    assert console.store.get(handoff).status == "open"


def test_login_logout_and_cookie_flags(console):
    session = requests.Session()
    page = session.get(f"{console.url}/console/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    response = session.post(f"{console.url}/console/login",
                            data={"name": "anna", "password": PASSWORD, "csrf_token": token}, allow_redirects=False)
    assert response.status_code == 303
    cookie = response.headers["set-cookie"]
    assert "ks1_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")
    queue = session.get(f"{console.url}/console")
    assert "anna" in queue.text and "Übergaben" in queue.text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', queue.text).group(1)
    session.post(f"{console.url}/console/logout", data={"csrf_token": csrf})
    assert session.get(f"{console.url}/console", allow_redirects=False).status_code == 303


def test_wrong_password_and_rate_limit(console):
    session = requests.Session()
    for attempt in range(5):
        page = session.get(f"{console.url}/console/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        response = session.post(f"{console.url}/console/login",
                                data={"name": "anna", "password": "wrong", "csrf_token": token})
        assert response.status_code == 401
        assert "Name oder Passwort ist falsch." in response.text
    page = session.get(f"{console.url}/console/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    response = session.post(f"{console.url}/console/login",
                            data={"name": "anna", "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 429
    assert "Zu viele fehlgeschlagene Anmeldungen" in response.text
    # The lockout is per client address (and per account across addresses, with a higher
    # limit): tests/security/test_console_hardening.py shows both behind a trusted proxy.
    assert console.auth.login("bert", PASSWORD, "192.0.2.1")[0] is not None


@pytest.mark.parametrize("token", [None, "", "forged-token"])
def test_missing_or_wrong_csrf_token_is_403(console, token):
    handoff = new_handoff(console.store)
    session = login(console.url)
    data = {"form_token": "abc"}
    if token is not None:
        data["csrf_token"] = token
    response = session.post(f"{console.url}/console/handoffs/{handoff}/claim", data=data)
    assert response.status_code == 403
    assert "Sicherheitsschlüssel" in response.text
    assert console.store.get(handoff).status == "open"
    # The login form is protected too.
    fresh = requests.Session()
    fresh.get(f"{console.url}/console/login")
    assert fresh.post(f"{console.url}/console/login",
                      data={"name": "anna", "password": PASSWORD, "csrf_token": "forged"}).status_code == 403


def act(session, base, handoff, action, **fields):
    page = session.get(f"{base}/console/handoffs/{handoff}")
    csrf, form = form_tokens(page.text)
    data = {"csrf_token": csrf, "form_token": f"{form}-{action}", **fields}
    return session.post(f"{base}/console/handoffs/{handoff}/{action}", data=data)


def test_claim_reply_resolve_with_audit_trail(console):
    handoff = new_handoff(console.store, channel="call")
    anna = login(console.url)
    page = act(anna, console.url, handoff, "claim")
    assert "Sie bearbeiten diese Übergabe jetzt." in page.text
    page = act(anna, console.url, handoff, "reply", text="Rückruf erledigt: Buchung läuft wieder.")
    assert "Antwort gesendet (callback to +4923112233 done)." in page.text
    page = act(anna, console.url, handoff, "resolve")
    assert "Erledigt." in page.text
    view = console.store.get(handoff)
    assert view.status == "resolved" and view.claimed_by == "anna"
    assert [e.action for e in view.events] == ["created", "claimed", "replied", "resolved"]
    assert all(e.actor == "anna" for e in view.events[1:])
    assert view.messages[-1].direction == "staff" and "Buchung läuft wieder" in view.messages[-1].text


def test_acting_on_a_resolved_handoff_is_refused_politely(console):
    handoff = new_handoff(console.store)
    anna = login(console.url)
    act(anna, console.url, handoff, "resolve")
    # The page of a resolved handoff offers no actions; a stale form (or a second tab) still posts.
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', anna.get(f"{console.url}/console").text).group(1)
    for action in ("claim", "reply", "resolve", "hand-back"):
        response = anna.post(f"{console.url}/console/handoffs/{handoff}/{action}",
                             data={"csrf_token": csrf, "form_token": f"stale-{action}", "text": "Hallo"})
        assert response.status_code == 200
        assert "Nichts zu tun: anna hat diese Übergabe bereits erledigt." in response.text, action
    view = console.store.get(handoff)
    assert [e.action for e in view.events] == ["created", "resolved"]
    assert not [m for m in view.messages if m.direction == "staff"]


def test_two_staff_claiming_at_once_one_wins(console):
    handoff = new_handoff(console.store)
    anna, bert = login(console.url, "anna"), login(console.url, "bert")
    pages = {name: s.get(f"{console.url}/console/handoffs/{handoff}") for name, s in (("anna", anna), ("bert", bert))}

    def claim(name, session):
        csrf, form = form_tokens(pages[name].text)
        return session.post(f"{console.url}/console/handoffs/{handoff}/claim",
                            data={"csrf_token": csrf, "form_token": f"{form}-claim"}).text

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda pair: claim(*pair), (("anna", anna), ("bert", bert))))
    winner = console.store.get(handoff).claimed_by
    assert winner in ("anna", "bert")
    assert sum("Sie bearbeiten diese Übergabe jetzt." in r for r in results) == 1
    loser_text = results[1] if winner == "anna" else results[0]
    assert f"{winner} " in loser_text and ("bearbeitet diese Übergabe bereits" in loser_text or "hat diese Übergabe zuerst übernommen" in loser_text)
    assert len([e for e in console.store.get(handoff).events if e.action == "claimed"]) == 1


def test_double_submitted_form_has_one_effect(console):
    handoff = new_handoff(console.store)
    anna = login(console.url)
    page = anna.get(f"{console.url}/console/handoffs/{handoff}")
    csrf, form = form_tokens(page.text)
    data = {"csrf_token": csrf, "form_token": f"{form}-reply", "text": "Wir rufen Sie gleich an."}
    first = anna.post(f"{console.url}/console/handoffs/{handoff}/reply", data=data)
    second = anna.post(f"{console.url}/console/handoffs/{handoff}/reply", data=data)
    assert "Antwort gesendet" in first.text
    assert "Bereits gesendet (das Formular wurde zweimal gesendet)." in second.text
    view = console.store.get(handoff)
    assert len([m for m in view.messages if m.direction == "staff"]) == 1
    assert len([e for e in view.events if e.action == "replied"]) == 1


def test_unknown_handoff_is_a_404_page(console):
    anna = login(console.url)
    for path in ("/console/handoffs/999999", "/console/handoffs/not-a-number"):
        response = anna.get(console.url + path)
        assert response.status_code == 404
        assert "Diese Übergabe oder Seite gibt es nicht" in response.text


def test_queue_filters_and_oldest_first(console):
    import datetime as dt

    base = dt.datetime(2026, 11, 17, 9, 0, tzinfo=dt.timezone.utc)
    late = new_handoff(console.store, channel="chat", topic="process_question", created_at=base + dt.timedelta(hours=2))
    early = new_handoff(console.store, channel="call", topic="bug_report", priority="high", created_at=base)
    anna = login(console.url)
    rows = anna.get(f"{console.url}/console/api/handoffs").json()
    assert [r["id"] for r in rows] == [early, late]
    assert [r["id"] for r in anna.get(f"{console.url}/console/api/handoffs?channel=chat").json()] == [late]
    assert [r["id"] for r in anna.get(f"{console.url}/console/api/handoffs?priority=high").json()] == [early]
    assert [r["id"] for r in anna.get(f"{console.url}/console/api/handoffs?topic=process_question").json()] == [late]
    html = anna.get(f"{console.url}/console?status=open").text
    assert html.index(f'data-id="{early}"') < html.index(f'data-id="{late}"')
    assert "überfällig seit" in html  # created in November 2026, long past its SLA


def test_customer_text_is_escaped_and_a_1mb_body_is_shown(console):
    evil = '<script>alert("x")</script><img src=x onerror="alert(1)">'
    huge = ("Zeile mit Text. " * 64 + "\n") * 1000  # about 1 MB
    handoff = new_handoff(console.store, channel="email", sender="h.meier@meier-bau.de",
                          subject=evil, text=evil + "\n" + huge)
    anna = login(console.url)
    page = anna.get(f"{console.url}/console/handoffs/{handoff}")
    assert page.status_code == 200
    assert "<script>alert" not in page.text and "<img src=x" not in page.text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page.text or "&lt;script&gt;" in page.text
    assert page.text.count("Zeile mit Text.") >= 64 * 1000
    assert "script-src 'self'" in page.headers["content-security-policy"]


def test_database_unavailable_shows_an_error_page_and_writes_nothing(postgres, settings, tmp_path):
    from .conftest import LiveServer, make_console

    store, auth, app = make_console(settings, postgres.url)
    auth.add_staff("anna", PASSWORD)
    handoff = new_handoff(store)
    with LiveServer(app) as server:
        anna = login(server.url)
        page = anna.get(f"{server.url}/console/handoffs/{handoff}")
        csrf, form = form_tokens(page.text)
        postgres.stop()
        response = anna.post(f"{server.url}/console/handoffs/{handoff}/claim",
                             data={"csrf_token": csrf, "form_token": f"{form}-claim"})
        assert response.status_code == 503
        assert "nicht erreichbar" in response.text and "nichts geändert" in response.text
        postgres.start()
        view = store.get(handoff)
        assert view.status == "open" and [e.action for e in view.events] == ["created"]


def test_a_reply_is_queued_and_its_delivery_state_is_on_the_page(console):
    from ks1bot.conversations.outbox import Outbox

    handoff = new_handoff(console.store, channel="chat", conversation_id="widget-99")
    anna = login(console.url)
    page = act(anna, console.url, handoff, "reply", text="Wir rufen Sie gleich an.")
    assert "Antwort eingereiht (chat message to the customer&#39;s widget)" in page.text
    assert 'class="delivery-status">eingereiht<' in page.text
    outbox = Outbox(console.store.engine)
    item = outbox.claim("chat", "test-worker")
    outbox.failed(item.id, "the chat server could not deliver it (ConnectionError)")
    page = anna.get(f"{console.url}/console/handoffs/{handoff}")
    assert 'class="delivery-status">fehlgeschlagen: the chat server could not deliver it (ConnectionError)<' in page.text
    assert "delivery_failed" in page.text  # in the audit trail too
