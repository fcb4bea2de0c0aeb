"""SPEC §4 rules, one by one, on the pure decision function."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from ks1bot.core.customers import Customer
from ks1bot.nlu.knowledge import KnowledgeHit
from ks1bot.core.routing import Classification, MessageFacts, decide
from ks1bot.core.settings import Settings
from ks1bot.core.support_hours import SupportHours

BERLIN = ZoneInfo("Europe/Berlin")
OPEN = dt.datetime(2026, 11, 17, 11, 20, tzinfo=BERLIN)  # Tuesday
CLOSED = dt.datetime(2026, 11, 17, 21, 5, tzinfo=BERLIN)
SUPPORT = Customer("C1", "Meier Bau", "support", ("@meier-bau.de",))
UPDATE = Customer("C4", "Alpen Handel", "update", ("@alpen-handel.at",))
NONE = Customer("C9", "Nordlicht", "none", ("info@nordlicht.example",))
HIT = KnowledgeHit("update-tool", "Updates", "de", "Updates kommen über das Update Tool.", 0.8, "Wie bekomme ich Updates?")
WEAK_HIT = KnowledgeHit("update-tool", "Updates", "de", "…", 0.2, "…")


def route(topic, confidence=0.95, channel="email", at=OPEN, customer=SUPPORT, kb=None, settings=None,
          ranking=(), **facts):
    settings = settings or Settings()
    return decide(
        Classification(topic, confidence, ranking or ((topic, confidence),)),
        MessageFacts(channel=channel, received_at=at, **facts),
        customer,
        settings,
        SupportHours(settings.support_hours),
        kb,
    )


# Rule 1: ignore
def test_auto_generated_email_is_ignored():
    d = route("bug_report", auto_generated="out_of_office")
    assert d.route == "ignore"
    assert "auto_generated:out_of_office" in d.reasons


def test_auto_generated_flag_only_matters_for_email():
    assert route("bug_report", channel="chat", auto_generated="out_of_office").route == "handoff"


def test_thanks_only_email_is_ignored_but_answered_in_chat_and_call():
    assert route("thanks", channel="email").route == "ignore"
    assert route("thanks", channel="chat").route == "answer"
    assert route("thanks", channel="call", at=CLOSED).route == "answer"


# Rule 2: handoff
@pytest.mark.parametrize("topic", ["request_human", "bug_report", "process_question"])
def test_handoff_topics(topic):
    d = route(topic)
    assert d.route == "handoff"
    assert f"topic:{topic}" in d.reasons
    assert d.priority == "normal"


def test_production_down_bug_is_high_priority():
    d = route("bug_report", production_down=True)
    assert (d.route, d.priority) == ("handoff", "high")
    assert "production_down" in d.reasons


def test_production_down_words_do_not_raise_priority_of_other_topics():
    assert route("greeting", channel="chat", production_down=True).priority == "normal"


# Rule 3: exclude
@pytest.mark.parametrize("topic", ["os", "network", "database_server", "hardware", "virtualization",
                                   "terminal_server", "third_party_software", "out_of_domain"])
def test_excluded_topics_any_time(topic):
    for at in (OPEN, CLOSED):
        d = route(topic, at=at)
        assert d.route == "exclude"
        assert f"excluded_topic:{topic}" in d.reasons
        assert "billable_service" not in d.reasons


@pytest.mark.parametrize("topic", ["print_report_change", "import_definition", "feature_request", "training"])
def test_billable_exclusions_are_marked(topic):
    d = route(topic)
    assert d.route == "exclude"
    assert "billable_service" in d.reasons


def test_uncertain_exclusion_goes_to_a_person():
    d = route("hardware", confidence=0.3)
    assert d.route == "handoff"
    assert "low_confidence" in d.reasons


def test_in_scope_part_of_a_mixed_message_wins():
    """"After the Windows update KS1 crashes": KS1 malfunctions and the model sees a bug too."""
    d = route("os", 0.8, ranking=(("os", 0.8), ("bug_report", 0.15)), ks1_malfunction=True)
    assert (d.route, d.topic) == ("handoff", "bug_report")
    assert "in_scope_part:bug_report" in d.reasons
    assert "classified_as:os" in d.reasons


def test_ks1_merely_affected_by_an_infrastructure_fault_stays_excluded():
    """"The RAID failed, everything is slow, KS1 too": the model sees no bug at all."""
    d = route("hardware", 0.9, ranking=(("hardware", 0.9), ("bug_report", 0.01)), ks1_malfunction=True)
    assert d.route == "exclude"


@pytest.mark.parametrize("topic", ["print_report_change", "import_definition"])
def test_an_existing_print_or_import_that_fails_is_a_bug(topic):
    d = route(topic, 0.7, malfunction=True)
    assert (d.route, d.topic) == ("handoff", "bug_report")
    assert route("hardware", 0.7, malfunction=True).route == "exclude"


def test_question_whether_an_excluded_area_is_covered_is_a_contract_question():
    hit = KnowledgeHit("support-contract", "Supportvertrag", "de", "Der Supportvertrag umfasst …", 0.7, "q")
    d = route("network", 0.6, coverage_question=True, kb=hit)
    assert (d.route, d.topic) == ("answer", "contract_question")
    assert "in_scope_part:contract_question" in d.reasons


# Rule 4: entitlement
@pytest.mark.parametrize("customer", [UPDATE, NONE])
@pytest.mark.parametrize("topic", ["operating_question", "process_question"])
def test_not_entitled(customer, topic):
    d = route(topic, customer=customer)
    assert d.route == "exclude"
    assert "not_entitled" in d.reasons


@pytest.mark.parametrize("topic", ["update_question", "golive_preparation", "contract_question"])
def test_everyone_is_served_for_update_golive_and_contract(topic):
    d = route(topic, customer=NONE, kb=HIT)
    assert d.route == "answer"


def test_bug_reports_are_served_for_everyone():
    assert route("bug_report", customer=NONE).route == "handoff"


def test_unknown_sender_is_served_like_support_and_flagged():
    d = route("operating_question", customer=None)
    assert d.route == "handoff"
    assert "unknown_customer" in d.reasons


# Rule 5: answer within hours
def test_confident_kb_answer_within_hours():
    d = route("update_question", kb=HIT)
    assert d.route == "answer"
    assert "kb:update-tool" in d.reasons
    assert d.knowledge == HIT


def test_outside_hours_the_answer_becomes_a_draft_for_staff():
    d = route("update_question", at=CLOSED, kb=HIT)
    assert d.route == "handoff"
    assert "outside_hours" in d.reasons and "kb:update-tool" in d.reasons
    assert d.knowledge == HIT
    assert d.next_opening == dt.datetime(2026, 11, 18, 8, 30, tzinfo=BERLIN)


def test_self_service_always_answers_at_night():
    d = route("update_question", at=CLOSED, kb=HIT, settings=Settings(self_service="always"))
    assert d.route == "answer"


def test_operating_question_with_an_article_is_answered():
    d = route("operating_question", kb=HIT)
    assert d.route == "answer"


def test_weak_kb_answer_is_handed_off():
    d = route("update_question", kb=WEAK_HIT)
    assert d.route == "handoff"
    assert "no_confident_kb_answer" in d.reasons


def test_greeting_is_answered_any_time():
    assert route("greeting", channel="chat", at=CLOSED).route == "answer"


# Rule 6: everything else
def test_low_confidence_goes_to_a_person():
    d = route("update_question", confidence=0.2, kb=HIT)
    assert d.route == "handoff"
    assert "low_confidence" in d.reasons
