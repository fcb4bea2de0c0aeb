"""SPEC §4 routing as one pure function: decision = f(classification, time, customer, settings).

Every decision carries machine-readable reasons so staff can see why it was made.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Optional, Sequence, Tuple

from ks1bot.customers import Customer
from ks1bot.knowledge import KnowledgeHit
from ks1bot.settings import Settings
from ks1bot.support_hours import SupportHours
from ks1bot.topics import (
    BILLABLE_TOPICS,
    EXCLUDED_TOPICS,
    HANDOFF_TOPICS,
    KNOWLEDGE_TOPICS,
    SUPPORT_CONTRACT_TOPICS,
)

ROUTES = ("answer", "exclude", "handoff", "ignore")

#: Excluded topics that are services on KS1 itself: when one of them "fails", it is an
#: existing print report or import of KS1 that fails, i.e. a bug.
KS1_SERVICE_TOPICS = frozenset({"print_report_change", "import_definition"})
#: A KS1 malfunction in a message classified as an excluded topic makes it a bug report
#: when the classifier gives bug_report at least this probability (both agree).
MIXED_BUG_MIN_PROBABILITY = 0.05


@dataclass(frozen=True)
class Classification:
    """What the NLU model says about a message."""

    topic: str
    confidence: float
    #: (topic, confidence) pairs, best first.
    ranking: Tuple[Tuple[str, float], ...] = ()


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
    #: Phone: the caller could not be understood, also after being asked to repeat.
    unclear_speech: bool = False


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


def decide(
    classification: Classification,
    facts: MessageFacts,
    customer: Optional[Customer],
    settings: Settings,
    hours: SupportHours,
    knowledge: Optional[KnowledgeHit] = None,
) -> Decision:
    """Apply the routing rules of SPEC §4, in order, and say why."""
    topic = classification.topic
    confidence = classification.confidence
    reasons = []
    if customer is None:
        reasons.append("unknown_customer")
    else:
        reasons.append(f"customer:{customer.customer_id}")
    open_now = hours.is_open(facts.received_at)
    next_opening = None if open_now else hours.next_opening(facts.received_at)
    thresholds = settings.thresholds

    def result(route: str, *extra: str, priority: str = "normal", kb: Optional[KnowledgeHit] = None,
               final_topic: Optional[str] = None) -> Decision:
        return Decision(
            route=route,
            topic=final_topic or topic,
            confidence=round(float(confidence), 4),
            priority=priority,
            reasons=tuple(extra) + tuple(reasons),
            knowledge=kb,
            support_open=open_now,
            next_opening=next_opening,
        )

    # 1. ignore: auto-generated email, and a thanks-only email.
    if facts.channel == "email" and facts.auto_generated:
        return result("ignore", f"auto_generated:{facts.auto_generated}",
                      final_topic=topic if topic in ("thanks", "out_of_domain") else "out_of_domain")
    if facts.channel == "email" and topic == "thanks" and confidence >= thresholds.classify:
        return result("ignore", "thanks_only")

    # A caller we cannot understand gets a call back from a person.
    if facts.channel == "call" and facts.unclear_speech:
        return result("handoff", "low_asr_confidence", final_topic="request_human")

    # The in-scope part of a mixed message wins (SPEC §3); exclude only when the whole
    # request is out of scope.
    if effective_topic(classification, facts) != topic:
        reasons.insert(0, f"classified_as:{topic}")
        topic = effective_topic(classification, facts)
        reasons.insert(0, f"in_scope_part:{topic}")

    priority = "high" if facts.production_down and topic in HANDOFF_TOPICS else "normal"
    if priority == "high":
        reasons.insert(0, "production_down")

    # 4 (before 2, see docs/routing.md). Entitlement: operating and process questions
    # need a support contract.
    entitled = customer is None or customer.contract == "support"
    if topic in SUPPORT_CONTRACT_TOPICS and not entitled and confidence >= thresholds.classify:
        return result("exclude", "not_entitled", f"contract:{customer.contract}")

    # 2. handoff: a person is asked for, a bug, a process question.
    if topic in HANDOFF_TOPICS:
        return result("handoff", f"topic:{topic}", priority=priority)

    # 3. exclude: excluded topics, at any time of day, when the classifier is sure enough.
    if topic in EXCLUDED_TOPICS:
        if confidence >= thresholds.exclude:
            extra = ("billable_service",) if topic in BILLABLE_TOPICS else ()
            return result("exclude", f"excluded_topic:{topic}", *extra)
        return result("handoff", "low_confidence", f"uncertain_exclusion:{topic}")

    if confidence < thresholds.classify:
        return result("handoff", "low_confidence")

    # Small talk is answered at any time; a thanks by email was ignored above.
    if topic == "greeting":
        return result("answer", "small_talk")
    if topic == "thanks":
        return result("answer", "small_talk")

    # 5. answer from the knowledge base, within support hours (or always, if configured).
    if topic in KNOWLEDGE_TOPICS:
        if knowledge is None or knowledge.score < thresholds.knowledge:
            return result("handoff", "no_confident_kb_answer")
        kb_reason = f"kb:{knowledge.article_id}"
        if open_now or settings.self_service == "always":
            return result("answer", kb_reason, kb=knowledge)
        return result("handoff", "outside_hours", kb_reason, kb=knowledge)

    # 6. everything else goes to a person.
    return result("handoff", "no_rule")


def in_scope_part(classification: Classification, facts: MessageFacts) -> Optional[str]:
    """The in-scope topic hidden in a message classified as an excluded topic, if any."""
    topic = classification.topic
    bug_probability = dict(classification.ranking).get("bug_report", 0.0)
    if facts.ks1_malfunction and bug_probability >= MIXED_BUG_MIN_PROBABILITY:
        return "bug_report"  # "after the Windows update KS1 crashes with error 0x…"
    if topic in KS1_SERVICE_TOPICS and facts.malfunction:
        return "bug_report"  # an existing import or print of KS1 that fails
    if facts.coverage_question:
        return "contract_question"  # "is help with the network covered by the contract?"
    return None


def effective_topic(classification: Classification, facts: MessageFacts) -> str:
    """The topic routing acts on: the classified one, or the in-scope part of a mixed message."""
    if classification.topic in EXCLUDED_TOPICS:
        return in_scope_part(classification, facts) or classification.topic
    return classification.topic


def topic_needs_knowledge(topic: str) -> bool:
    """Whether routing will look at a knowledge-base answer for this topic."""
    return topic in KNOWLEDGE_TOPICS
