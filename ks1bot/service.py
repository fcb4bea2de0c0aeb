"""From an inbound message to decision and reply: the one path every channel takes.

`ks1bot route`, the Rasa action server and the channels all call `Router.route`; only
where the NLU parse comes from differs (in-process model, or the Rasa server's parse).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional, Protocol

from ks1bot.customers import Customer, CustomerDirectory
from ks1bot.email_text import latest_reply
from ks1bot.embeddings import PARSE_KEY
from ks1bot.knowledge import KnowledgeBase
from ks1bot.language import detect_language
from ks1bot.loop_protection import MailFacts, auto_reply_reason
from ks1bot.messages import InboundMessage
from ks1bot.nlu import classification_from_parse
from ks1bot.replies import render_reply
from ks1bot.routing import Classification, Decision, MessageFacts, decide, effective_topic, topic_needs_knowledge
from ks1bot.settings import Settings
from ks1bot.signals import Signals, load_signals
from ks1bot.support_hours import SupportHours
from ks1bot.text import classification_text


class Parser(Protocol):
    def parse(self, text: str) -> Mapping[str, Any]: ...


@dataclass(frozen=True)
class Routed:
    """Everything known about a routed message."""

    message: InboundMessage
    text: str
    language: str
    customer: Optional[Customer]
    classification: Classification
    decision: Decision
    reply: str

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
        }


def text_to_classify(message: InboundMessage) -> str:
    """Email: subject plus the new part of the body; chat and call: the text."""
    if message.channel == "email":
        return classification_text(latest_reply(message.text), message.subject)
    return classification_text(message.text)


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
        """Decide and word the reply. `parse` is the Rasa parse of `text_to_classify(message)`
        when the caller already has it (the action server); else the parser makes it.
        `unclear_speech`: a caller who could not be understood even after repeating."""
        text = text_to_classify(message)
        if parse is None:
            if self.parser is None:
                raise RuntimeError("Router needs a parser or a parse result")
            parse = self.parser.parse(text)
        classification = classification_from_parse(parse)
        if self.knowledge is not None:
            # the NLU's vector of this text, so the search below need not run the model again
            self.knowledge.remember_query(str(parse.get("text") or ""), parse.get(PARSE_KEY))
        language = message.language_hint or detect_language(text, self.settings.default_language)
        match = self.directory.match(message.sender)
        customer = match.customer if match else None
        auto = message.auto_generated
        if auto is None and message.channel == "email":
            auto = auto_reply_reason(
                MailFacts(
                    sender=message.sender,
                    subject=message.subject or "",
                    body=message.text,
                    headers=message.headers,
                    our_addresses=self.settings.our_addresses,
                    our_message_id_domain=self.settings.message_id_domain,
                )
            )
        facts = MessageFacts(
            channel=message.channel,
            received_at=message.received_at,
            auto_generated=auto,
            production_down=self.signals.is_production_down(text),
            ks1_malfunction=self.signals.reports_ks1_malfunction(text),
            malfunction=self.signals.reports_malfunction(text),
            coverage_question=self.signals.asks_about_coverage(text),
            unclear_speech=unclear_speech,
        )
        hit = None
        topic = effective_topic(classification, facts)
        if self.knowledge is not None and topic_needs_knowledge(topic):
            hit = self.knowledge.search(text, topic, language)
        decision = decide(classification, facts, customer, self.settings, self.hours, hit)
        reply = render_reply(decision, language, message.channel, customer)
        return Routed(message, text, language, customer, classification, decision, reply)


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)
