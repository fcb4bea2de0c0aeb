"""Issue 15 over real HTTP: German by default and English per staff member, roles enforced
on the server (an agent gets 403), the bot's decisions and one-click corrections (stored
with who and when, in the audit trail, counted), internal notes, assignment and the "mine"
filter, text modules with placeholders, the customer page, search."""
from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest

from tests.staff_console.conftest import PASSWORD, form_tokens, login, new_handoff


def csrf_of(html: str) -> str:
    return html.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]


def routed(text="Wie buche ich eine Gutschrift?", topic="operating_question", route="answer", message_id="m1",
           conversation="chat-1", customer_id="C1001"):
    """A routed message as the channels pass it to record_decision."""
    from ks1bot.core.messages import InboundMessage

    message = InboundMessage(id=message_id, channel="chat", text=text, sender="h.meier@meier-bau.de",
                             received_at=dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.timezone.utc))
    decision = SimpleNamespace(topic=topic, confidence=0.8, route=route, reasons=("kb:buchen",))
    return SimpleNamespace(message=message, decision=decision, text=text.lower(), language="de",
                           customer=SimpleNamespace(customer_id=customer_id) if customer_id else None)


def test_login_and_every_page_are_german_by_default(console):
    page = requests_get(console.url + "/console/login")
    assert '<html lang="de">' in page.text and "Anmelden" in page.text and "Passwort" in page.text
    handoff = new_handoff(console.store, created_at=dt.datetime(2026, 12, 7, 7, 30, tzinfo=dt.timezone.utc))
    anna = login(console.url)
    for path in ("/console", f"/console/handoffs/{handoff}", "/console/decisions", "/console/search?q=Buchen",
                 "/console/customers/C1001"):
        html = anna.get(console.url + path).text
        assert '<html lang="de">' in html, path
        assert "Abmelden" in html and "Log out" not in html, path
    detail = anna.get(f"{console.url}/console/handoffs/{handoff}").text
    assert "Mo., 7. Dez. 2026, 08:30" in detail  # Europe/Berlin, German format
    assert "Übernehmen" in detail and "Fehlermeldung" in detail  # button, topic name


def test_english_is_chosen_per_staff_member_and_stored_with_the_account(console):
    handoff = new_handoff(console.store, created_at=dt.datetime(2026, 12, 7, 7, 30, tzinfo=dt.timezone.utc))
    anna = login(console.url)
    queue = anna.get(console.url + "/console")
    anna.post(console.url + "/console/language", data={"csrf_token": csrf_of(queue.text), "language": "en",
                                                       "next": "/console"})
    english = anna.get(f"{console.url}/console/handoffs/{handoff}").text
    assert '<html lang="en">' in english and "Claim" in english and "Mon, 7 Dec 2026, 08:30" in english
    again = login(console.url)  # a new session: the choice is the account's
    assert '<html lang="en">' in again.get(console.url + "/console").text
    bert = login(console.url, "bert")
    assert '<html lang="de">' in bert.get(console.url + "/console").text


def test_the_catalogues_have_the_same_keys():
    from console.i18n import catalogue

    assert set(catalogue("de")) == set(catalogue("en"))


def test_an_agent_gets_403_on_lead_pages_and_actions(console):
    console.auth.add_staff("lena", PASSWORD, role="lead")
    anna = login(console.url)
    assert anna.get(console.url + "/console/learn").status_code == 403
    html = anna.get(console.url + "/console").text
    refused = anna.post(console.url + "/console/learn/1/review", data={"csrf_token": csrf_of(html),
                                                                      "review": "accepted"})
    assert refused.status_code == 403 and "Teamleitung" in refused.text
    lena = login(console.url, "lena")
    assert lena.get(console.url + "/console/learn").status_code == 200


def test_a_bot_answered_message_is_listed_and_corrected_in_one_click(console):
    from ks1bot.conversations.feedback import Feedback, record_decision

    decision_id = record_decision(console.store, routed(), "chat-1")
    assert record_decision(console.store, routed(), "chat-1") == decision_id  # once per message
    anna = login(console.url)
    page = anna.get(console.url + "/console/decisions?route=answer")
    assert "wie buche ich eine gutschrift?" in page.text and "beantwortet" in page.text
    done = anna.post(f"{console.url}/console/decisions/{decision_id}/correct",
                     data={"csrf_token": csrf_of(page.text), "topic": "process_question", "route": "handoff"})
    assert "Korrektur gespeichert" in done.text and "Korrigiert von anna" in done.text
    feedback = Feedback(console.store.engine)
    [correction] = feedback.corrections()
    assert (correction.staff, correction.old_topic, correction.topic, correction.route) == \
        ("anna", "operating_question", "process_question", "handoff")
    assert feedback.per_topic() == {"operating_question": 1}
    bad = anna.post(f"{console.url}/console/decisions/{decision_id}/correct",
                    data={"csrf_token": csrf_of(page.text), "topic": "nonsense", "route": "handoff"})
    assert "Wählen Sie ein Thema" in bad.text and len(feedback.corrections()) == 1


def test_a_handoff_correction_is_in_the_audit_trail(console):
    handoff = new_handoff(console.store)
    anna = login(console.url)
    page = anna.get(f"{console.url}/console/handoffs/{handoff}")
    done = anna.post(f"{console.url}/console/handoffs/{handoff}/correct",
                     data={"csrf_token": csrf_of(page.text), "topic": "hardware", "route": "exclude", "kb_gap": "1"})
    assert "Korrektur der Einordnung" in done.text and "bug_report/handoff → hardware/exclude" in done.text


def test_internal_notes_are_marked_and_never_queued_for_the_customer(console):
    handoff = new_handoff(console.store, channel="chat")
    anna = login(console.url)
    page = anna.get(f"{console.url}/console/handoffs/{handoff}")
    done = anna.post(f"{console.url}/console/handoffs/{handoff}/note",
                     data={"csrf_token": csrf_of(page.text), "text": "Kunde ruft morgen <b>zurück</b>"})
    assert "Interne Notiz gespeichert" in done.text
    assert "Kunde ruft morgen &lt;b&gt;zurück&lt;/b&gt;" in done.text  # escaped
    assert 'class="msg internal-note"' in done.text and "interne Notiz" in done.text  # marked, audit trail
    assert console.store.deliveries(handoff) == []  # nothing for the channel


def test_assignment_and_the_mine_filter(console):
    first, second = new_handoff(console.store), new_handoff(console.store)
    anna = login(console.url)
    page = anna.get(f"{console.url}/console/handoffs/{first}")
    done = anna.post(f"{console.url}/console/handoffs/{first}/assign",
                     data={"csrf_token": csrf_of(page.text), "staff": "bert"})
    assert "Zugewiesen an bert." in done.text
    unknown = anna.post(f"{console.url}/console/handoffs/{second}/assign",
                        data={"csrf_token": csrf_of(page.text), "staff": "mallory"})
    assert "kein Konto" in unknown.text
    bert = login(console.url, "bert")
    mine = bert.get(console.url + "/console?mine=1").text
    assert f'data-id="{first}"' in mine and f'data-id="{second}"' not in mine


def test_text_modules_are_filled_with_customer_and_next_opening(console):
    handoff = new_handoff(console.store)
    html = login(console.url).get(f"{console.url}/console/handoffs/{handoff}").text
    assert "Guten Tag Meier Bau GmbH," in html and "{kunde}" not in html and "{naechste_oeffnung}" not in html
    assert "anna, KS1 Support" in html
    assert 'id="kb-article"' in html  # knowledge-base articles to insert


def test_the_customer_page_lists_every_channel(console):
    call = new_handoff(console.store, channel="call")
    mail = new_handoff(console.store, channel="email", sender="h.meier@meier-bau.de")
    from ks1bot.conversations.feedback import record_decision

    record_decision(console.store, routed(text="Danke für die schnelle Hilfe", topic="thanks"), "chat-9")
    html = login(console.url).get(console.url + "/console/customers/C1001").text
    assert f'/console/handoffs/{call}"' in html and f'/console/handoffs/{mail}"' in html
    assert "danke für die schnelle hilfe" in html
    assert login(console.url).get(console.url + "/console/customers/NOPE").status_code == 404


def test_search_finds_german_word_forms_on_sqlite(console):
    wanted = new_handoff(console.store, text="Die Rechnung wird mit falschem Datum gedruckt", subject="Druck")
    other = new_handoff(console.store, text="Lieferschein fehlt")
    anna = login(console.url)
    html = anna.get(console.url + "/console/search", params={"q": "Rechnungen"}).text
    assert f'data-id="{wanted}"' in html and f'data-id="{other}"' not in html
    by_customer = anna.get(console.url + "/console/search", params={"q": "Meier Rechnungen"}).text
    assert f'data-id="{wanted}"' in by_customer
    injection = anna.get(console.url + "/console/search", params={"q": '") OR 1=1 --  "*'})
    assert injection.status_code == 200


def requests_get(url):
    import requests

    return requests.get(url)


def test_the_dashboard_for_the_lead(console):
    from ks1bot.conversations.feedback import Feedback, record_decision

    console.auth.add_staff("lena", PASSWORD, role="lead")
    for n, (topic, route) in enumerate([("operating_question", "answer"), ("os", "exclude"),
                                        ("bug_report", "handoff"), ("greeting", "answer")]):
        record_decision(console.store, routed(text=f"Nachricht {n}", topic=topic, route=route, message_id=f"m{n}"),
                        f"chat-{n}")
    decision = Feedback(console.store.engine).decisions(route="exclude")[0]
    Feedback(console.store.engine).correct("anna", "bug_report", "handoff", text=decision.text, channel="chat",
                                           conversation_id="chat-1", old_topic="os", old_route="exclude",
                                           decision_id=decision.id)
    created = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.timezone.utc)
    handoff = new_handoff(console.store, channel="chat", created_at=created)
    console.store.claim(handoff, "anna")
    console.store.reply(handoff, "anna", "Wir kümmern uns.")
    assert login(console.url).get(console.url + "/console/dashboard").status_code == 403
    page = login(console.url, "lena").get(console.url + "/console/dashboard",
                                          params={"from": "2026-11-25", "to": "2026-12-02"})
    assert page.status_code == 200 and '<svg xmlns="http://www.w3.org/2000/svg"' in page.text
    html = page.text
    assert 'id="fig-messages">4<' in html
    assert 'id="fig-answer-rate">50,0 %<' in html and 'id="fig-exclusion-rate">25,0 %<' in html
    assert "Betriebssystem" in html and "100,0 % (1/1)" in html  # corrections per topic
    assert "Zeitraum: Mi., 25. Nov. 2026 bis Mi., 2. Dez. 2026" in html
    assert "<script" not in html.split("<main>", 1)[1].split("</main>", 1)[0]
