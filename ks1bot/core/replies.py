"""Reply texts for decisions, from the templates in templates/replies.yml."""
from __future__ import annotations

import datetime as dt
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, Optional

import yaml

from ks1bot.core.customers import Customer
from ks1bot.core.routing import Decision
from ks1bot.core.topics import BILLABLE_TOPICS, INFRASTRUCTURE_TOPICS

TEMPLATES_FILE = Path(__file__).with_name("templates") / "replies.yml"


@lru_cache(maxsize=4)
def load_templates(path: Path = TEMPLATES_FILE) -> Dict[str, Any]:
    return yaml.safe_load(Path(path).read_text(encoding="utf-8"))


def format_opening(at: dt.datetime, language: str, templates: Optional[Dict[str, Any]] = None) -> str:
    """'Montag, 7. Dezember, ab 08:30 Uhr' / 'Monday, 7 December, from 08:30 (German time)'."""
    return _opening_text(at, (templates or load_templates())[language])


def _opening_text(at: dt.datetime, t: Dict[str, Any]) -> str:
    return t["next_opening"].format(
        weekday=t["weekdays"][at.weekday()],
        day=at.day,
        month=t["months"][at.month - 1],
        time=at.strftime("%H:%M"),
    )


def _body(decision: Decision, language: str, channel: str, customer: Optional[Customer], t: Dict[str, Any]) -> str:
    topic = decision.topic
    fields = {
        "topic_name": t["topic_names"].get(topic, topic),
        "terms": t["terms"],
        "support_hours": t["support_hours"],
        "contract_name": t["contract_names"].get(customer.contract, customer.contract) if customer else "",
    }
    if decision.route == "ignore":
        return ""
    if decision.route == "answer":
        if decision.knowledge is not None:
            key = "answer_call" if channel == "call" else "answer"
            return "\n\n".join(
                t[key].format(body=hit.body, title=hit.title, article_id=hit.article_id)
                for hit in (decision.knowledge,) + tuple(decision.answers)
            )
        return t["small_talk"].get(topic, t["small_talk"]["greeting"])
    if decision.route == "exclude":
        if "not_entitled" in decision.reasons:
            key = "exclude_not_entitled"
        elif topic in INFRASTRUCTURE_TOPICS:
            key = "exclude_infrastructure"
        elif topic in BILLABLE_TOPICS:
            key = f"exclude_{topic}"
        else:
            key = "exclude_out_of_domain"
        return t[key].format(**fields)
    # handoff
    details = t["handoff_detail"]
    detail = details.get(topic, details["default"])
    if topic == "bug_report" and decision.priority == "high":
        detail = details["bug_report_high"]
    if "low_asr_confidence" in decision.reasons:
        detail = details["unclear_speech"]
    if decision.knowledge is not None and "outside_hours" in decision.reasons:
        detail = f"{detail} {t['outside_hours_draft_note']}"
    open_now = decision.support_open
    key = ("handoff_call_" if channel == "call" else "handoff_") + ("open" if open_now else "closed")
    opening = ""
    if not open_now and decision.next_opening is not None:
        opening = _opening_text(decision.next_opening, t)
    return t[key].format(handoff_detail=detail, next_opening=opening, **fields)


def excluded_parts_sentence(decision: Decision, customer: Optional[Customer], t: Dict[str, Any]) -> str:
    """One sentence per kind of excluded request in a message that is otherwise served."""
    kinds: Dict[str, list] = {}
    for topic in decision.excluded_parts:
        if topic in ("operating_question", "process_question"):
            kind = "not_entitled"
        elif topic in INFRASTRUCTURE_TOPICS:
            kind = "infrastructure"
        elif topic in BILLABLE_TOPICS:
            kind = "billable"
        else:
            kind = "out_of_domain"
        kinds.setdefault(kind, []).append(t["topic_names"].get(topic, topic))
    sentences = []
    for kind in ("infrastructure", "billable", "not_entitled", "out_of_domain"):
        if kind in kinds:
            names = kinds[kind]
            joined = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} {t['and']} {names[-1]}"
            terms = t["terms"] if not sentences else t["terms_short"]
            sentences.append(t["excluded_parts"][kind].format(topic_names=joined, terms=terms))
    return " ".join(sentences)


def phrase(key: str, language: str, templates: Optional[Dict[str, Any]] = None, **fields: Any) -> str:
    """A fixed phrase of the bot (call_repeat, handed_back, staff_reply_intro) in `language`."""
    all_templates = templates or load_templates()
    return all_templates[language if language in all_templates else "de"][key].format(**fields)


def render_reply(
    decision: Decision,
    language: str,
    channel: str,
    customer: Optional[Customer] = None,
    templates: Optional[Dict[str, Any]] = None,
) -> str:
    """The text the customer gets for `decision` ('' for ignore)."""
    all_templates = templates or load_templates()
    t = all_templates[language if language in all_templates else "de"]
    body = _body(decision, language, channel, customer, t)
    if not body:
        return ""
    if decision.excluded_parts and decision.route != "ignore":
        body = f"{body}\n\n{excluded_parts_sentence(decision, customer, t)}"
    small_talk = decision.route == "answer" and decision.knowledge is None
    if channel == "email" and not small_talk:
        return f"{t['greeting_line']}\n\n{body}\n\n{t['closing']}"
    return body[:1].upper() + body[1:]


def handoff_acknowledgement(language: str, channel: str, support_open: bool,
                            next_opening: Optional[dt.datetime] = None) -> str:
    """The acknowledgement of a message handed to staff without a classification (it could
    not be read or routed): "passed to a member of staff", with the support hours."""
    decision = Decision(route="handoff", topic="unclassified", confidence=0.0, support_open=support_open,
                        next_opening=next_opening)
    return render_reply(decision, language, channel)
