"""Figures for the support lead's dashboard over a period: messages per day by channel and
route (the decisions record), bot answer and exclusion rates, handoffs open, SLA kept or
missed, staff corrections per topic against the bot's decisions of that topic (its live
error rate), and the median time to the first staff answer. Read-only."""
from __future__ import annotations

import datetime as dt
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from ks1bot.conversations.db import session_factory, utc
from ks1bot.conversations.feedback_models import CorrectionRow, DecisionRow
from ks1bot.conversations.models import ConversationMessage, Handoff

BERLIN = ZoneInfo("Europe/Berlin")


@dataclass
class Dashboard:
    since: dt.date
    until: dt.date  # inclusive
    days: List[dt.date] = field(default_factory=list)
    #: day → route → count
    per_day_route: Dict[dt.date, Counter] = field(default_factory=dict)
    #: channel → route → count
    per_channel_route: Dict[str, Counter] = field(default_factory=dict)
    messages: int = 0
    answered: int = 0
    excluded: int = 0
    handoffs_open: int = 0
    sla_kept: int = 0
    sla_missed: int = 0
    #: topic → (corrections, decisions of that topic)
    corrections: Dict[str, Tuple[int, int]] = field(default_factory=dict)
    first_answer_minutes: Optional[float] = None
    handoffs: int = 0

    @property
    def answer_rate(self) -> Optional[float]:
        return self.answered / self.messages if self.messages else None

    @property
    def exclusion_rate(self) -> Optional[float]:
        return self.excluded / self.messages if self.messages else None


def _bounds(since: dt.date, until: dt.date) -> Tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.combine(since, dt.time(0), tzinfo=BERLIN).astimezone(dt.timezone.utc)
    end = dt.datetime.combine(until + dt.timedelta(days=1), dt.time(0), tzinfo=BERLIN).astimezone(dt.timezone.utc)
    return start, end


def dashboard(engine, since: dt.date, until: dt.date, now: dt.datetime) -> Dashboard:
    start, end = _bounds(since, until)
    result = Dashboard(since, until)
    day = since
    while day <= until:
        result.days.append(day)
        result.per_day_route[day] = Counter()
        day += dt.timedelta(days=1)
    Session = session_factory(engine)
    with Session() as session:
        topic_decisions: Counter = Counter()
        for channel, route, topic, received in session.execute(
                select(DecisionRow.channel, DecisionRow.route, DecisionRow.topic, DecisionRow.received_at)
                .where(DecisionRow.received_at >= start, DecisionRow.received_at < end)):
            local = utc(received).astimezone(BERLIN).date()
            result.per_day_route.setdefault(local, Counter())[route] += 1
            result.per_channel_route.setdefault(channel, Counter())[route] += 1
            result.messages += 1
            result.answered += route == "answer"
            result.excluded += route == "exclude"
            topic_decisions[topic] += 1
        corrected = Counter(dict(session.execute(
            select(CorrectionRow.old_topic, func.count(CorrectionRow.id))
            .where(CorrectionRow.at >= start, CorrectionRow.at < end).group_by(CorrectionRow.old_topic)).all()))
        result.corrections = {t: (corrected[t], topic_decisions[t]) for t in sorted(set(corrected) | set(topic_decisions))
                              if corrected[t]}
        result.handoffs_open = session.execute(
            select(func.count(Handoff.id)).where(Handoff.status.in_(("open", "claimed")))).scalar() or 0
        first_staff: Dict[int, dt.datetime] = {}
        for handoff_id, at in session.execute(
                select(ConversationMessage.handoff_id, func.min(ConversationMessage.created_at))
                .where(ConversationMessage.direction == "staff").group_by(ConversationMessage.handoff_id)):
            first_staff[handoff_id] = utc(at)
        waits = []
        for row in session.execute(select(Handoff.id, Handoff.created_at, Handoff.sla_due_at, Handoff.resolved_at,
                                          Handoff.status)
                                   .where(Handoff.created_at >= start, Handoff.created_at < end)):
            result.handoffs += 1
            answered_at = first_staff.get(row.id) or utc(row.resolved_at)
            due = utc(row.sla_due_at)
            if answered_at is not None:
                waits.append((answered_at - utc(row.created_at)).total_seconds() / 60)
                if answered_at <= due:
                    result.sla_kept += 1
                else:
                    result.sla_missed += 1
            elif now > due:
                result.sla_missed += 1
        result.first_answer_minutes = statistics.median(waits) if waits else None
    return result
