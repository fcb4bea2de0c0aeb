from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from ks1bot.core.customers import Customer
from ks1bot.nlu.knowledge import KnowledgeHit
from ks1bot.core.replies import format_opening, render_reply
from ks1bot.core.routing import Decision

BERLIN = ZoneInfo("Europe/Berlin")
MONDAY = dt.datetime(2026, 12, 7, 8, 30, tzinfo=BERLIN)


def decision(route, topic, **kw):
    return Decision(route=route, topic=topic, confidence=0.9, **kw)


def test_next_opening_in_words():
    assert format_opening(MONDAY, "de") == "Montag, 7. Dezember, ab 08:30 Uhr"
    assert format_opening(MONDAY, "en") == "Monday, 7 December, from 08:30 (German time)"


@pytest.mark.parametrize("language", ["de", "en"])
def test_infrastructure_exclusion_names_topic_terms_and_admin(language):
    text = render_reply(decision("exclude", "network", reasons=("excluded_topic:network",)), language, "email")
    if language == "de":
        assert text.startswith("Guten Tag,")
        assert "Ihr Netzwerk" in text
        assert "Support-Leistungen und Verantwortlichkeiten" in text
        assert "Systemadministrator oder Ihren IT-Dienstleister" in text
        assert text.rstrip().endswith("Ihr KS1-Support")
    else:
        assert text.startswith("Hello,")
        assert "your network" in text
        assert "system administrator or IT service provider" in text


@pytest.mark.parametrize("topic, de_word, en_word", [
    ("print_report_change", "Angebot", "quote"),
    ("import_definition", "Angebot", "quote"),
    ("feature_request", "Produktmanagement", "product management"),
    ("training", "Schulung", "training"),
])
def test_billable_exclusions_offer_a_quote(topic, de_word, en_word):
    de = render_reply(decision("exclude", topic, reasons=("billable_service",)), "de", "chat")
    en = render_reply(decision("exclude", topic, reasons=("billable_service",)), "en", "chat")
    assert de_word in de and "kostenpflichtig" in de
    assert en_word in en and "paid" in en
    assert de[0].isupper()


def test_not_entitled_points_to_the_support_contract():
    customer = Customer("C4", "Alpen", "update", ())
    text = render_reply(decision("exclude", "operating_question", reasons=("not_entitled",)), "de", "chat", customer)
    assert "Supportvertrag" in text and "Updateservice" in text
    en = render_reply(decision("exclude", "operating_question", reasons=("not_entitled",)), "en", "chat", customer)
    assert "support contract" in en and "update service" in en


def test_handoff_inside_hours_says_within_support_hours():
    text = render_reply(decision("handoff", "bug_report", support_open=True), "de", "chat")
    assert "schnellstmöglich" in text and "08:30 bis 16:30" in text


def test_handoff_outside_hours_names_the_next_opening():
    d = decision("handoff", "request_human", support_open=False, next_opening=MONDAY)
    assert "am Montag, 7. Dezember, ab 08:30 Uhr" in render_reply(d, "de", "chat")
    assert "on Monday, 7 December, from 08:30" in render_reply(d, "en", "chat")
    assert "ruft Sie am Montag, 7. Dezember, ab 08:30 Uhr zurück" in render_reply(d, "de", "call")


def test_high_priority_handoff_says_urgent():
    d = decision("handoff", "bug_report", priority="high")
    assert "dringend" in render_reply(d, "de", "chat")
    assert "urgent" in render_reply(d, "en", "chat")


def test_answer_cites_the_article():
    hit = KnowledgeHit("update-tool", "Updates über das KS1 Update Tool", "de", "Updates kommen über das Tool.", 0.9, "q")
    text = render_reply(decision("answer", "update_question", knowledge=hit), "de", "chat")
    assert text.startswith("Updates kommen über das Tool.")
    assert "„Updates über das KS1 Update Tool“ (kb:update-tool)" in text


def test_outside_hours_draft_is_mentioned():
    hit = KnowledgeHit("update-tool", "T", "de", "B", 0.9, "q")
    d = decision("handoff", "update_question", knowledge=hit, reasons=("outside_hours",),
                 support_open=False, next_opening=MONDAY)
    assert "Antwort vorbereitet" in render_reply(d, "de", "chat")


def test_ignore_has_no_reply_and_small_talk_is_short():
    assert render_reply(decision("ignore", "thanks"), "de", "email") == ""
    assert render_reply(decision("answer", "greeting"), "de", "chat").startswith("Guten Tag!")
    assert render_reply(decision("answer", "thanks"), "en", "chat").startswith("You're welcome")


def test_every_topic_renders_in_both_languages():
    from ks1bot.core.topics import TOPICS

    for topic in TOPICS:
        for route in ("exclude", "handoff"):
            for language in ("de", "en"):
                for channel in ("email", "chat", "call"):
                    text = render_reply(decision(route, topic, support_open=False, next_opening=MONDAY),
                                        language, channel)
                    assert text and "{" not in text, (topic, route, language, channel)
