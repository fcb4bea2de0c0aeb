"""SPEC §4 routing as one pure function: decision = f(classification, time, customer, settings).

Every decision carries machine-readable reasons so staff can see why it was made.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Optional, Sequence, Tuple

from ks1bot.core.customers import Customer
from ks1bot.core.settings import Settings
from ks1bot.core.support_hours import SupportHours
from ks1bot.core.topics import (
    BILLABLE_TOPICS,
    INFRASTRUCTURE_TOPICS,
    EXCLUDED_TOPICS,
    HANDOFF_TOPICS,
    KNOWLEDGE_TOPICS,
    SUPPORT_CONTRACT_TOPICS,
)

#: Excluded topics that are services on KS1 itself: when one of them "fails", it is an
#: existing print report or import of KS1 that fails, i.e. a bug.
KS1_SERVICE_TOPICS = frozenset({"print_report_change", "import_definition"})
#: A KS1 malfunction in a message classified as an excluded topic makes it a bug report
#: when the classifier gives bug_report at least this probability (both agree).
MIXED_BUG_MIN_PROBABILITY = 0.05
#: An update question that reports a KS1 malfunction is a bug when the classifier gives
#: bug_report at least this probability.
UPDATE_BUG_MIN_PROBABILITY = 0.25


@dataclass(frozen=True)
class Classification:
    """What the NLU model says about a message."""

    topic: str
    confidence: float
    #: (topic, confidence) pairs, best first.
    ranking: Tuple[Tuple[str, float], ...] = ()


@dataclass(frozen=True)
class KnowledgeHit:
    """The best knowledge-base article for a message, with its similarity score
    (found by `ks1bot.nlu.knowledge`; routing decides whether it is good enough)."""

    article_id: str
    title: str
    language: str
    body: str
    score: float
    #: The question of the article the message was closest to.
    matched_question: str
    #: The message asks for a detail the article does not give (price, duration, date).
    missing_detail: Optional[str] = None
    #: Chosen by a rule rather than by similarity ("coverage": the message asks whether
    #: something is covered by the contract, which the contract's article answers).
    rule: Optional[str] = None


@dataclass(frozen=True)
class MessageFacts:
    """What routing needs to know about the message besides its classification."""

    channel: str
    received_at: dt.datetime
    #: Loop-protection rule that hit (email only), else None.
    auto_generated: Optional[str] = None
    production_down: bool = False
    #: KS1 is named and something in it went wrong (the in-scope part of a mixed message).
    ks1_malfunction: bool = False
    #: Something went wrong, whatever it is.
    malfunction: bool = False
    #: The message asks whether something is covered by the contract.
    coverage_question: bool = False
    #: The message asks for a call back or a person.
    person_request: bool = False
    #: The message asks how to do something in KS1 itself.
    ks1_how_to: bool = False
    #: The message asks for an installation/configuration guide for KS1 or its SQL Server.
    guide_request: bool = False
    #: Phone: the caller could not be understood, also after being asked to repeat.
    unclear_speech: bool = False
    #: The message only says the matter is settled ("hat sich erledigt, danke").
    closes_the_matter: bool = False


@dataclass(frozen=True)
class PartFacts:
    """What the text of one request (a part of a message) says besides its classification."""

    ks1_malfunction: bool = False
    malfunction: bool = False
    coverage_question: bool = False
    person_request: bool = False
    ks1_how_to: bool = False
    guide_request: bool = False


@dataclass(frozen=True)
class RequestPart:
    """One of several requests in a message, classified on its own."""

    classification: Classification
    facts: PartFacts = PartFacts()
    #: The knowledge-base answer to this part, when its topic has articles.
    knowledge: Optional[KnowledgeHit] = None


@dataclass(frozen=True)
class PartResult:
    """How one request of a message was judged (the `parts` of `ks1bot route`)."""

    topic: str
    confidence: float
    #: in_scope, excluded, small_talk or unclear
    status: str


@dataclass(frozen=True)
class Decision:
    route: str
    topic: str
    confidence: float
    priority: str = "normal"
    reasons: Tuple[str, ...] = ()
    #: The knowledge-base answer: the reply (route answer) or the draft for staff.
    knowledge: Optional[KnowledgeHit] = None
    #: For handoffs: whether support is open now, and when it opens next.
    support_open: bool = True
    next_opening: Optional[dt.datetime] = None
    #: Further knowledge-base answers, one per further answerable request of the message.
    answers: Tuple[KnowledgeHit, ...] = ()
    #: Excluded topics of other requests in the message (the reply says they are outside
    #: the support terms).
    excluded_parts: Tuple[str, ...] = ()
    #: Every request of the message as judged, in order (one entry for a single request).
    parts: Tuple[PartResult, ...] = ()


#: Which in-scope request of a message leads, when there are several: those that need a
#: person first, then the answerable ones.
LEAD_ORDER = ("bug_report", "request_human", "process_question", "operating_question",
              "update_question", "golive_preparation", "contract_question")
SMALL_TALK = frozenset({"greeting", "thanks"})
#: Excluded topics whose messages may carry a KS1 how-to question as their in-scope part
#: (a new import or form is billable however it is asked for).
HOW_TO_HOSTS = EXCLUDED_TOPICS - BILLABLE_TOPICS | {"training", "feature_request"}
#: Topics served whatever the contract (SPEC §4 rule 4).
SERVED_FOR_EVERYONE = frozenset({"bug_report", "update_question", "golive_preparation", "contract_question",
                                 "request_human"})
#: A request of a message that is in scope as a whole needs this confidence to lead it.
PART_LEAD_CONFIDENCE = 0.6


@dataclass(frozen=True)
class _Unit:
    """The whole message or one of its requests, as routing judges it."""

    topic: str  # effective topic (the in-scope part of a mixed text wins)
    classified_as: str
    confidence: float
    status: str
    knowledge: Optional[KnowledgeHit]
    #: the classifier's probability that it is in scope after all
    in_scope_probability: float = 0.0
    #: the classifier's probability of the topics everyone is served for (entitlement)
    served_probability: float = 0.0


def in_scope_probability(classification: Classification) -> float:
    """How likely the classifier finds it that the message is in scope after all."""
    return sum(p for t, p in classification.ranking if t not in EXCLUDED_TOPICS and t not in SMALL_TALK)


def _judge(classification: Classification, facts, knowledge: Optional[KnowledgeHit], thresholds) -> _Unit:
    topic = effective_topic(classification, facts)
    confidence = classification.confidence
    if topic != classification.topic:
        status = "in_scope"  # a signal found the in-scope part inside an excluded topic
    elif topic in EXCLUDED_TOPICS:
        sure = confidence >= thresholds.exclude and in_scope_probability(classification) < thresholds.in_scope_doubt
        status = "excluded" if sure else "unclear"
    elif topic in SMALL_TALK:
        status = "small_talk" if confidence >= thresholds.classify else "unclear"
    else:
        status = "in_scope" if confidence >= thresholds.classify else "unclear"
    served = sum(p for t, p in classification.ranking if t in SERVED_FOR_EVERYONE)
    return _Unit(topic, classification.topic, confidence, status, knowledge,
                 in_scope_probability(classification), served)


def decide(
    classification: Classification,
    facts: MessageFacts,
    customer: Optional[Customer],
    settings: Settings,
    hours: SupportHours,
    knowledge: Optional[KnowledgeHit] = None,
    parts: Sequence[RequestPart] = (),
) -> Decision:
    """Apply the routing rules of SPEC §4, in order, and say why.

    `classification` is the whole message's; `parts` are its requests when it holds
    several (SPEC §8): the in-scope requests decide, and a message is excluded only when
    every request is."""
    thresholds = settings.thresholds
    whole = _judge(classification, facts, knowledge, thresholds)
    units = [_judge(p.classification, p.facts, p.knowledge, thresholds) for p in parts] if len(parts) > 1 else []
    part_results = tuple(PartResult(u.topic, round(float(u.confidence), 4), u.status) for u in (units or [whole]))

    reasons = []
    if customer is None:
        reasons.append("unknown_customer")
    else:
        reasons.append(f"customer:{customer.customer_id}")
    open_now = hours.is_open(facts.received_at)
    next_opening = None if open_now else hours.next_opening(facts.received_at)

    def result(route: str, unit: _Unit, *extra: str, priority: str = "normal", kb: Optional[KnowledgeHit] = None,
               answers: Tuple[KnowledgeHit, ...] = (), excluded: Tuple[str, ...] = ()) -> Decision:
        lead = []
        if unit.topic != unit.classified_as:
            lead = [f"in_scope_part:{unit.topic}", f"classified_as:{unit.classified_as}"]
        if units:
            lead.append(f"requests:{len(units)}")
        return Decision(
            route=route,
            topic=unit.topic,
            confidence=round(float(unit.confidence), 4),
            priority=priority,
            reasons=tuple(lead) + tuple(extra) + tuple(reasons),
            knowledge=kb,
            support_open=open_now,
            next_opening=next_opening,
            answers=answers,
            excluded_parts=excluded,
            parts=part_results,
        )

    # 1. ignore: auto-generated email, and a thanks-only email.
    if facts.channel == "email" and facts.auto_generated:
        ignored = _Unit(classification.topic if classification.topic in ("thanks", "out_of_domain") else "out_of_domain",
                        classification.topic, classification.confidence, "ignored", None)
        return result("ignore", replace(ignored, classified_as=ignored.topic), f"auto_generated:{facts.auto_generated}")
    if facts.closes_the_matter and not units:
        whole = replace(whole, topic="thanks", classified_as="thanks", status="small_talk")
    others = [u for u in units if u.status != "small_talk"]
    if facts.channel == "email" and whole.topic == "thanks" and whole.status == "small_talk" and not others:
        return result("ignore", whole, "thanks_only")

    # A caller we cannot understand gets a call back from a person.
    if facts.channel == "call" and facts.unclear_speech:
        return result("handoff", replace(whole, topic="request_human", classified_as="request_human"),
                      "low_asr_confidence")

    excluded_topics = tuple(dict.fromkeys(u.topic for u in units if u.status == "excluded"))
    in_scope = [u for u in [whole] + units if u.status == "in_scope"]
    if whole.status == "in_scope":
        # The whole message is in scope: a request of it leads only when the classifier is
        # sure of it on its own (a fragment such as "Und wie schließen wir ihn ab?" is not).
        in_scope = [whole] + [u for u in units if u.status == "in_scope"
                              and (u.topic == whole.topic or u.confidence >= PART_LEAD_CONFIDENCE)]
    blocking = [u for u in units if u.status == "unclear" and u.in_scope_probability >= thresholds.in_scope_doubt]
    if units and in_scope:
        decision = _route_several(in_scope, excluded_topics, facts, customer, settings, open_now, result)
        # A customer is turned away only when no request of the message may be served to
        # them: a fragment too unsure to lead still stops an exclusion.
        entitled = customer is None or customer.contract == "support"
        served = [u for u in units if u.topic != decision.topic and (
            u in blocking or (u.status == "in_scope" and (entitled or u.topic not in SUPPORT_CONTRACT_TOPICS)))]
        if decision.route == "exclude" and served:
            return result("handoff", whole, "low_confidence", f"uncertain_exclusion:{decision.topic}",
                          f"in_scope_part:{served[0].topic}")
        return decision
    if units and whole.status == "excluded" and blocking:
        # the whole looks excluded, but not every request is sure to be: a person decides
        return result("handoff", whole, "low_confidence", f"uncertain_exclusion:{whole.topic}")
    if units and whole.status != "excluded" and excluded_topics and not blocking and all(
            u.status in ("excluded", "small_talk", "unclear") for u in units):
        # every request is excluded, though the whole was not sure: exclude by the surest
        surest = max((u for u in units if u.status == "excluded"), key=lambda u: u.confidence)
        extra = ("billable_service",) if surest.topic in BILLABLE_TOPICS else ()
        return result("exclude", surest, f"excluded_topic:{surest.topic}", *extra,
                      excluded=tuple(t for t in excluded_topics if t != surest.topic))
    decision = _route_one(whole, facts, customer, settings, open_now, result)
    if decision.route == "exclude" and "not_entitled" not in decision.reasons:
        others = tuple(t for t in excluded_topics if t != decision.topic)
        return replace(decision, excluded_parts=others)
    return decision


def _route_several(in_scope: Sequence[_Unit], excluded_topics: Tuple[str, ...], facts: MessageFacts,
                   customer: Optional[Customer], settings: Settings, open_now: bool, result) -> Decision:
    """Several requests, some in scope: those decide (a person when one of them needs a
    person, else the bot's answers), the excluded ones are named in the reply."""
    best = {}
    for unit in in_scope:  # one unit per topic: the surest
        if unit.topic not in best or unit.confidence > best[unit.topic].confidence:
            best[unit.topic] = unit
    ordered = sorted(best.values(), key=lambda u: (LEAD_ORDER.index(u.topic) if u.topic in LEAD_ORDER else 99,
                                                   -u.confidence))
    routed = [_route_one(u, facts, customer, settings, open_now, result) for u in ordered]
    overall = next(r for r in ("handoff", "answer", "exclude") if any(d.route == r for d in routed))
    lead = next(d for d in routed if d.route == overall)
    answers = []
    for d in routed:
        if d is not lead and d.knowledge is not None and d.route in ("answer", "handoff") \
                and d.knowledge.article_id not in {a.article_id for a in answers} \
                and (lead.knowledge is None or d.knowledge.article_id != lead.knowledge.article_id):
            answers.append(d.knowledge)
    not_entitled = tuple(d.topic for d in routed if d.route == "exclude" and d is not lead)
    excluded = tuple(t for t in dict.fromkeys(excluded_topics + not_entitled) if t != lead.topic)
    extra = tuple(f"excluded_part:{t}" for t in excluded)
    return replace(lead, reasons=lead.reasons + extra,
                   answers=tuple(answers), excluded_parts=excluded)


def _route_one(unit: _Unit, facts: MessageFacts, customer: Optional[Customer], settings: Settings,
               open_now: bool, result) -> Decision:
    """Rules 2–6 for one request (the whole message, or the leading one of several)."""
    thresholds = settings.thresholds
    topic = unit.topic
    priority = "high" if facts.production_down and topic in HANDOFF_TOPICS else "normal"
    extra = ("production_down",) if priority == "high" else ()

    # 4 (before 2; see README "How a message is routed"). Entitlement: operating and
    # process questions need a support contract.
    entitled = customer is None or customer.contract == "support"
    if topic in SUPPORT_CONTRACT_TOPICS and not entitled and unit.status == "in_scope":
        # turning a customer away needs the same certainty as any exclusion
        if unit.confidence >= thresholds.exclude and unit.served_probability < thresholds.in_scope_doubt:
            return result("exclude", unit, "not_entitled", f"contract:{customer.contract}")
        return result("handoff", unit, "low_confidence", "uncertain_entitlement")

    # 2. handoff: a person is asked for, a bug, a process question.
    if topic in HANDOFF_TOPICS:
        return result("handoff", unit, *extra, f"topic:{topic}", priority=priority)

    # 3. exclude: excluded topics, at any time of day, when the classifier is sure enough.
    if topic in EXCLUDED_TOPICS:
        if unit.status == "excluded":
            billable = ("billable_service",) if topic in BILLABLE_TOPICS else ()
            return result("exclude", unit, f"excluded_topic:{topic}", *billable)
        return result("handoff", unit, "low_confidence", f"uncertain_exclusion:{topic}")

    if unit.confidence < thresholds.classify:
        return result("handoff", unit, "low_confidence")

    # Small talk is answered at any time; a thanks by email was ignored above.
    if topic in SMALL_TALK:
        return result("answer", unit, "small_talk")

    # 5. answer from the knowledge base, within support hours (or always, if configured).
    if topic in KNOWLEDGE_TOPICS:
        knowledge = unit.knowledge
        if knowledge is None or (knowledge.score < thresholds.knowledge and knowledge.rule is None):
            return result("handoff", unit, "no_confident_kb_answer")
        kb_reason = f"kb:{knowledge.article_id}"
        if knowledge.rule is not None:
            kb_reason = f"{kb_reason}:{knowledge.rule}"
        if knowledge.missing_detail:
            # the article is near, but the customer asks for a price, a duration or a date
            # it does not give: a person answers, with the article as the draft
            return result("handoff", unit, f"kb_lacks_detail:{knowledge.missing_detail}", kb_reason, kb=knowledge)
        if open_now or settings.self_service == "always":
            return result("answer", unit, kb_reason, kb=knowledge)
        return result("handoff", unit, "outside_hours", kb_reason, kb=knowledge)

    # 6. everything else goes to a person.
    return result("handoff", unit, "no_rule")


def in_scope_part(classification: Classification, facts: MessageFacts) -> Optional[str]:
    """The in-scope topic hidden in a message classified as an excluded topic (or the bug
    behind an update question), if any."""
    topic = classification.topic
    bug_probability = dict(classification.ranking).get("bug_report", 0.0)
    if topic == "update_question":
        # "seit dem Update gestern rechnet der Bestellvorschlag falsch": a bug, when the
        # classifier sees one too (update questions often mention what an update changes)
        return "bug_report" if facts.ks1_malfunction and bug_probability >= UPDATE_BUG_MIN_PROBABILITY else None
    if facts.ks1_malfunction and bug_probability >= MIXED_BUG_MIN_PROBABILITY:
        return "bug_report"  # "after the Windows update KS1 crashes with error 0x…"
    if topic in KS1_SERVICE_TOPICS and facts.malfunction:
        return "bug_report"  # an existing import or print of KS1 that fails
    if facts.coverage_question:
        return "contract_question"  # "is help with the network covered by the contract?"
    if facts.person_request:
        return "request_human"  # "… bitte rufen Sie mich zurück": a person decides
    if facts.guide_request and topic in INFRASTRUCTURE_TOPICS:
        return "golive_preparation"  # "die Installationsanleitung für den SQL Server, bitte"
    if facts.ks1_how_to and topic in HOW_TO_HOSTS:
        return "operating_question"  # "… eine Schulung? Und wie erfasse ich im KS1 ein Angebot?"
    return None


def effective_topic(classification: Classification, facts: MessageFacts) -> str:
    """The topic routing acts on: the classified one, or the in-scope part of a mixed
    message (or a bug behind an update question)."""
    if classification.topic in EXCLUDED_TOPICS or classification.topic == "update_question":
        return in_scope_part(classification, facts) or classification.topic
    return classification.topic


def topic_needs_knowledge(topic: str) -> bool:
    """Whether routing will look at a knowledge-base answer for this topic."""
    return topic in KNOWLEDGE_TOPICS
