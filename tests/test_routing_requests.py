"""Routing a message with several requests, and the certainty an exclusion needs (SPEC §8)."""
from __future__ import annotations

import datetime as dt
from dataclasses import replace
from zoneinfo import ZoneInfo

from ks1bot.core.customers import Customer
from ks1bot.nlu.knowledge import KnowledgeHit
from ks1bot.core.replies import render_reply
from ks1bot.core.routing import Classification, MessageFacts, PartFacts, RequestPart, decide
from ks1bot.core.settings import Settings, Thresholds
from ks1bot.core.support_hours import SupportHours

BERLIN = ZoneInfo("Europe/Berlin")
OPEN = dt.datetime(2026, 11, 17, 11, 20, tzinfo=BERLIN)
SUPPORT = Customer("C1", "Meier Bau", "support", ("@meier-bau.de",))
UPDATE = Customer("C4", "Alpen Handel", "update", ("@alpen-handel.at",))
CHECKLIST = KnowledgeHit("golive-checklist", "Checklisten", "de", "Die Checklisten …", 0.8, "q")
SETTINGS = Settings(thresholds=Thresholds(classify=0.4, exclude=0.4, knowledge=0.52, in_scope_doubt=0.4))


def cls(topic, confidence, *others):
    return Classification(topic, confidence, ((topic, confidence),) + tuple(others))


def part(topic, confidence, *others, knowledge=None, **facts):
    return RequestPart(cls(topic, confidence, *others), PartFacts(**facts), knowledge)


def route(whole, parts=(), customer=SUPPORT, channel="email", knowledge=None, **facts):
    return decide(whole, MessageFacts(channel=channel, received_at=OPEN, **facts), customer, SETTINGS,
                  SupportHours(SETTINGS.support_hours), knowledge, parts)


def test_in_scope_request_wins_over_an_excluded_one_and_the_reply_names_both():
    """"1. Where is the go-live checklist? 2. Could you also set up our new label printer?\""""
    d = route(cls("hardware", 0.7), [part("golive_preparation", 0.9, knowledge=CHECKLIST), part("hardware", 0.95)])
    assert (d.route, d.topic) == ("answer", "golive_preparation")
    assert d.excluded_parts == ("hardware",)
    assert "excluded_part:hardware" in d.reasons
    assert [p.status for p in d.parts] == ["in_scope", "excluded"]
    reply = render_reply(d, "de", "email")
    assert "Die Checklisten" in reply
    assert "Hardware" in reply and "Systemadministrator oder Ihren IT-Dienstleister" in reply
    english = render_reply(d, "en", "chat")
    assert "hardware" in english and "system administrator or IT service provider" in english


def test_a_bug_and_an_excluded_request_go_to_a_person_with_the_exclusion_named():
    d = route(cls("network", 0.6), [part("bug_report", 0.8), part("network", 0.9)])
    assert (d.route, d.topic) == ("handoff", "bug_report")
    assert "Netzwerk" in render_reply(d, "de", "email")


def test_every_request_excluded_means_exclusion():
    d = route(cls("network", 0.8), [part("network", 0.9), part("hardware", 0.85)])
    assert d.route == "exclude"
    assert d.excluded_parts == ("hardware",)


def test_an_unclear_request_that_may_be_in_scope_blocks_the_exclusion():
    d = route(cls("network", 0.8), [part("network", 0.9),
                                    part("hardware", 0.3, ("operating_question", 0.45), ("bug_report", 0.2))])
    assert d.route == "handoff"
    assert "uncertain_exclusion:network" in d.reasons


def test_a_fragment_that_is_out_of_scope_anyway_does_not_block_the_exclusion():
    d = route(cls("database_server", 0.9), [part("database_server", 0.9),
                                            part("out_of_domain", 0.35, ("os", 0.3), ("bug_report", 0.05))])
    assert d.route == "exclude"


def test_a_fragment_does_not_take_over_an_in_scope_message():
    """"… Und wie schließen wir ihn ab?" must not become a bug report of its own."""
    whole = cls("contract_question", 0.9)
    hit = KnowledgeHit("update-service", "Updateservice", "de", "Der Updateservice …", 0.7, "q")
    d = route(whole, [part("contract_question", 0.85, knowledge=hit), part("bug_report", 0.45)], knowledge=hit)
    assert (d.route, d.topic) == ("answer", "contract_question")


def test_an_exclusion_needs_the_in_scope_topics_to_be_unlikely():
    sure = route(cls("training", 0.8, ("operating_question", 0.1)))
    doubtful = route(cls("training", 0.55, ("operating_question", 0.42)))
    assert sure.route == "exclude"
    assert doubtful.route == "handoff" and "uncertain_exclusion:training" in doubtful.reasons


def test_not_entitled_exclusion_needs_the_same_certainty():
    sure = route(cls("operating_question", 0.9), customer=UPDATE)
    doubtful = route(cls("operating_question", 0.5, ("golive_preparation", 0.45)), customer=UPDATE)
    assert sure.route == "exclude" and "not_entitled" in sure.reasons
    assert doubtful.route == "handoff" and "uncertain_entitlement" in doubtful.reasons


def test_a_mail_that_closes_the_matter_is_a_thanks():
    """"Hat sich erledigt, unser Techniker hat den Scanner getauscht." under an old hardware subject."""
    assert route(cls("hardware", 0.8), closes_the_matter=True).route == "ignore"
    assert route(cls("hardware", 0.8), channel="chat", closes_the_matter=True).route == "answer"


def test_a_call_back_request_is_never_excluded():
    d = route(cls("out_of_domain", 0.7), person_request=True)
    assert (d.route, d.topic) == ("handoff", "request_human")


def test_a_ks1_how_to_inside_a_training_request_is_handed_off():
    d = route(cls("training", 0.9), ks1_how_to=True)
    assert (d.route, d.topic) == ("handoff", "operating_question")
    assert route(cls("import_definition", 0.9), ks1_how_to=True).route == "exclude"


def test_knowledge_answer_chosen_by_rule_and_missing_details():
    coverage = KnowledgeHit("support-contract", "Supportvertrag", "de", "Der Supportvertrag …", 0.45, "q",
                            rule="coverage_question")
    d = route(cls("contract_question", 0.9), knowledge=coverage)
    assert d.route == "answer" and "kb:support-contract:coverage_question" in d.reasons
    weak = replace(coverage, rule=None)
    assert route(cls("contract_question", 0.9), knowledge=weak).route == "handoff"
    price = replace(CHECKLIST, missing_detail="price")
    d = route(cls("golive_preparation", 0.9), knowledge=price)
    assert d.route == "handoff" and "kb_lacks_detail:price" in d.reasons and d.knowledge == price


def test_a_request_too_unsure_to_lead_still_stops_an_exclusion():
    """Alpen Handel (update contract): an operating question and a bug after the update."""
    d = route(cls("operating_question", 0.7), [part("operating_question", 0.8), part("update_question", 0.5)],
              customer=UPDATE)
    assert d.route == "handoff" and "uncertain_exclusion:operating_question" in d.reasons


def test_an_update_question_that_reports_a_bug_is_a_bug():
    d = route(cls("update_question", 0.6, ("bug_report", 0.3)), ks1_malfunction=True, malfunction=True)
    assert (d.route, d.topic) == ("handoff", "bug_report")
    d = route(cls("update_question", 0.9, ("bug_report", 0.05)), ks1_malfunction=True, malfunction=True,
              knowledge=KnowledgeHit("update-tool", "Updates", "de", "…", 0.8, "q"))
    assert d.route == "answer"
