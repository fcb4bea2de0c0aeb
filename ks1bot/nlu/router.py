"""From an inbound message to decision and reply: the one path every channel takes.

`ks1bot route`, the Rasa action server and the channels all call `Router.route`; only
where the NLU parse comes from differs (in-process model, or the Rasa server's parse).
The Router is built in one place, `ks1bot.app.wiring`. It decides on what the channel
tells it: whether a mail is auto-generated is the email channel's loop protection's
verdict (`InboundMessage.auto_generated`), made before routing.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Protocol, Tuple

from ks1bot.core import logs
from ks1bot.core.customers import Customer, CustomerDirectory
from ks1bot.core.language import detect_language
from ks1bot.core.messages import InboundMessage
from ks1bot.core.preparation import PreparedText, prepare
from ks1bot.core.replies import render_reply
from ks1bot.core.routing import (Classification, Decision, KnowledgeHit, MessageFacts, PartFacts, RequestPart, decide,
                                 effective_topic, topic_needs_knowledge)
from ks1bot.core.settings import Settings
from ks1bot.core.signals import Signals, load_signals
from ks1bot.core.support_hours import SupportHours
from ks1bot.core.text import normalize_for_classification
from ks1bot.nlu.embeddings import PARSE_KEY
from ks1bot.nlu.knowledge import KnowledgeBase
from ks1bot.nlu.parse import classification_from_parse

log = logging.getLogger("ks1bot.nlu.router")


class Parser(Protocol):
    def parse(self, text: str) -> Mapping[str, Any]: ...


@dataclass(frozen=True)
class Routed:
    """Everything known about a routed message."""

    message: InboundMessage
    #: What the classifier read (the whole request on one line; see `preparation`).
    text: str
    language: str
    customer: Optional[Customer]
    classification: Classification
    decision: Decision
    reply: str
    prepared: Optional[PreparedText] = None

    def to_output(self) -> Dict[str, Any]:
        """The output line of `ks1bot route` (SPEC §7)."""
        d = self.decision
        return {
            "id": self.message.id,
            "language": self.language,
            "topic": d.topic,
            "confidence": d.confidence,
            "route": d.route,
            "priority": d.priority,
            "reasons": list(d.reasons),
            "reply": self.reply,
            "parts": [{"topic": p.topic, "confidence": p.confidence, "status": p.status} for p in d.parts],
        }


@dataclass(frozen=True)
class Analysis:
    """A message read, classified and looked up; what the routing rules decide on."""

    message: InboundMessage
    prepared: PreparedText
    language: str
    customer: Optional[Customer]
    classification: Classification
    facts: MessageFacts
    knowledge: Optional[KnowledgeHit]
    parts: Tuple[RequestPart, ...]


def text_to_classify(message: InboundMessage) -> str:
    """The whole request on one line, as the classifier reads it (see `preparation`)."""
    return prepare(message).text


class Router:
    def __init__(
        self,
        settings: Settings,
        directory: CustomerDirectory,
        knowledge: Optional[KnowledgeBase],
        parser: Optional[Parser] = None,
        signals: Optional[Signals] = None,
    ) -> None:
        self.settings = settings
        self.directory = directory
        self.knowledge = knowledge
        self.parser = parser
        self.signals = signals or load_signals()
        self.hours = SupportHours(settings.support_hours)

    def route(self, message: InboundMessage, parse: Optional[Mapping[str, Any]] = None,
              unclear_speech: bool = False) -> Routed:
        """Decide and word the reply. `parse` is the Rasa parse of the message's text when
        the caller already has it (the action server); else the parser makes it. The parts
        of a message with several requests are parsed by the parser (when there is none,
        the whole message decides).
        `unclear_speech`: a caller who could not be understood even after repeating."""
        import time

        from ks1bot.core import metrics

        started = time.perf_counter()
        routed = self.decide(self.analyse(message, parse, unclear_speech))
        metrics.record_message(message.channel, routed.decision.route, routed.decision.topic,
                               time.perf_counter() - started)
        return routed

    def analyse(self, message: InboundMessage, parse: Optional[Mapping[str, Any]] = None,
                unclear_speech: bool = False) -> "Analysis":
        """Everything routing needs to know about `message` (no settings thresholds yet)."""
        prepared = prepare(message)
        text = prepared.text
        if parse is not None and self.parser is not None and text \
                and normalize_for_classification(str(parse.get("text") or "")) != text:
            # the caller parsed another text (a chat message sent as an email, with a subject);
            # an intent payload (the widget's opening "/greeting") has no words to parse again
            parse = self._parse_or(text, parse)
        part_parses = None
        if parse is None:
            if self.parser is None:
                raise RuntimeError("Router needs a parser or a parse result")
            if prepared.several_requests and hasattr(self.parser, "parse_many"):
                # the message and its requests in one run of the models
                parse, *part_parses = self.parser.parse_many([text, *prepared.parts])
            else:
                parse = self.parser.parse(text)
        classification = classification_from_parse(parse)
        if self.knowledge is not None:
            # the NLU's vector of this text, so the search below need not run the model again
            self.knowledge.remember_query(str(parse.get("text") or ""), parse.get(PARSE_KEY))
        language = message.language_hint or detect_language(text, self.settings.default_language)
        # a customer id the channel verified first (a signed KS1 web token), then the sender
        match = (self.directory.by_id(message.customer_id) if message.customer_id else None) \
            or self.directory.match(message.sender)
        customer = match.customer if match else None
        # set by the channel: the email channel's loop protection (RFC 3834) names the rule
        # that hit; the router itself reads no headers
        auto = message.auto_generated
        facts = MessageFacts(
            channel=message.channel,
            received_at=message.received_at,
            auto_generated=auto,
            production_down=self.signals.is_production_down(text),
            ks1_malfunction=self.signals.reports_ks1_malfunction(text),
            malfunction=self.signals.reports_malfunction(text),
            coverage_question=self.signals.asks_about_coverage(text),
            person_request=self.signals.asks_for_person(text),
            ks1_how_to=self.signals.asks_how_to_in_ks1(text),
            guide_request=self.signals.asks_for_guide(text),
            unclear_speech=unclear_speech,
            closes_the_matter=self.signals.closes_the_matter(text),
        )
        hit = self._knowledge_for(text, effective_topic(classification, facts), language)
        parts = self._parts(prepared, language, part_parses) if auto is None else ()
        return Analysis(message, prepared, language, customer, classification, facts, hit, parts)

    def decide(self, analysis: "Analysis") -> Routed:
        """The routing rules and the reply for an analysed message."""
        a = analysis
        decision = decide(a.classification, a.facts, a.customer, self.settings, self.hours, a.knowledge, a.parts)
        reply = render_reply(decision, a.language, a.message.channel, a.customer)
        return Routed(a.message, a.prepared.text, a.language, a.customer, a.classification, decision, reply,
                      a.prepared)

    def _knowledge_for(self, text: str, topic: str, language: str):
        if self.knowledge is None or not topic_needs_knowledge(topic):
            return None
        if topic == "contract_question":
            # "Is X covered by the contract?" is answered by the contract's article, and "when
            # can we reach you?" by the support hours, whatever X is (SPEC §3).
            found = self.signals.contract_article(text)
            if found is not None:
                hit = self.knowledge.hit_for(found[0], text, language, rule=found[1])
                if hit is not None:
                    return hit
        return self.knowledge.search(text, topic, language)

    def _parse_or(self, text: str, fallback: Optional[Mapping[str, Any]]) -> Optional[Mapping[str, Any]]:
        """The parser's parse of `text`, or `fallback` when the parser fails (the Rasa
        server is not reachable from the action server, say)."""
        try:
            return self.parser.parse(text)
        except Exception as exc:  # a refinement failed: decide on what we have
            logs.event(log, "parse_failed", logging.WARNING, error=repr(exc))
            return fallback

    def _parts(self, prepared: PreparedText, language: str,
               parses: Optional[List[Mapping[str, Any]]] = None) -> Tuple[RequestPart, ...]:
        """Each request of a message with several, classified on its own (none when they
        cannot be parsed: then the whole message decides). `parses`: made already."""
        if not prepared.several_requests or (self.parser is None and parses is None):
            return ()
        if parses is None:
            parses = [self._parse_or(text, None) for text in prepared.parts]
        if any(parse is None for parse in parses):
            return ()
        parts = []
        for text, parse in zip(prepared.parts, parses):
            classification = classification_from_parse(parse)
            facts = PartFacts(
                ks1_malfunction=self.signals.reports_ks1_malfunction(text),
                malfunction=self.signals.reports_malfunction(text),
                coverage_question=self.signals.asks_about_coverage(text),
                person_request=self.signals.asks_for_person(text),
                ks1_how_to=self.signals.asks_how_to_in_ks1(text),
                guide_request=self.signals.asks_for_guide(text),
            )
            hit = self._knowledge_for(text, effective_topic(classification, facts), language)
            parts.append(RequestPart(classification, facts, hit))
        return tuple(parts)
