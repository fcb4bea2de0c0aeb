"""What staff make of the bot's work: the record of every routed message's decision, staff
corrections of a classification (reviewed by `ks1bot learn`), internal notes on a handoff
and assignments to a colleague. Each write is one transaction; the ones on a handoff also
write its audit trail in the same transaction.

Channels call `record_decision` once where they route; it never raises into the channel
(a message is answered even when this record cannot be written; the failure is logged)."""
from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from ks1bot.conversations.db import session_factory, utc
from ks1bot.conversations.feedback_models import Assignment, CorrectionRow, DecisionRow, HandoffNote, LearnRun
from ks1bot.conversations.models import AuditEvent, Handoff
from ks1bot.core import logs
from ks1bot.core.messages import now_utc
from ks1bot.core.topics import TOPICS

log = logging.getLogger("ks1bot.conversations.feedback")
ROUTES = ("answer", "exclude", "handoff", "ignore")
REVIEWS = ("pending", "accepted", "dropped")


@dataclass(frozen=True)
class DecisionView:
    id: int
    channel: str
    conversation_id: str
    message_id: str
    sender: str
    customer_id: Optional[str]
    subject: Optional[str]
    text: str
    language: str
    topic: str
    confidence: float
    route: str
    reasons: Tuple[str, ...]
    handoff_id: Optional[int]
    received_at: dt.datetime
    correction: Optional["CorrectionView"] = None


@dataclass(frozen=True)
class CorrectionView:
    id: int
    decision_id: Optional[int]
    handoff_id: Optional[int]
    channel: str
    conversation_id: str
    text: str
    language: str
    old_topic: str
    old_route: str
    topic: str
    route: str
    kb_gap: bool
    staff: str
    at: dt.datetime
    review: str
    learn_run_id: Optional[int]


@dataclass(frozen=True)
class NoteView:
    id: int
    handoff_id: int
    author: str
    text: str
    at: dt.datetime


class CorrectionError(ValueError):
    """A correction that cannot be stored; the message says what to choose."""


def _decision_view(row: DecisionRow, correction: Optional[CorrectionView] = None) -> DecisionView:
    return DecisionView(row.id, row.channel, row.conversation_id, row.message_id, row.sender, row.customer_id,
                        row.subject, row.text, row.language, row.topic, row.confidence, row.route,
                        tuple(json.loads(row.reasons or "[]")), row.handoff_id, utc(row.received_at), correction)


def _correction_view(row: CorrectionRow) -> CorrectionView:
    return CorrectionView(row.id, row.decision_id, row.handoff_id, row.channel, row.conversation_id, row.text,
                          row.language, row.old_topic, row.old_route, row.topic, row.route, bool(row.kb_gap),
                          row.staff, utc(row.at), row.review, row.learn_run_id)


class Feedback:
    def __init__(self, engine, clock: Callable[[], dt.datetime] = now_utc) -> None:
        self.engine = engine
        self.Session = session_factory(engine)
        self.clock = clock

    # -- the channels: one decision per routed message -------------------------------------
    def record(self, routed, conversation_id: str, handoff_id: Optional[int] = None) -> Optional[int]:
        """Store a routed message's decision (once per channel and message id)."""
        message, decision = routed.message, routed.decision
        with self.Session.begin() as session:
            found = session.execute(select(DecisionRow.id).where(
                DecisionRow.channel == message.channel, DecisionRow.message_id == str(message.id))).scalar()
            if found is not None:
                return found
            row = DecisionRow(
                channel=message.channel, conversation_id=str(conversation_id), message_id=str(message.id)[:255],
                sender=message.sender or "", customer_id=routed.customer.customer_id if routed.customer else None,
                subject=message.subject, text=routed.text or message.text, language=routed.language,
                topic=decision.topic, confidence=float(decision.confidence), route=decision.route,
                reasons=json.dumps(list(decision.reasons)), handoff_id=handoff_id,
                received_at=utc(message.received_at) or self.clock())
            session.add(row)
            session.flush()
            return row.id

    # -- staff read ------------------------------------------------------------------------
    def decisions(self, route: Optional[str] = None, limit: int = 200, since: Optional[dt.datetime] = None
                  ) -> List[DecisionView]:
        """Newest first, each with its newest correction."""
        query = select(DecisionRow)
        if route:
            query = query.where(DecisionRow.route == route)
        if since is not None:
            query = query.where(DecisionRow.received_at >= since)
        with self.Session() as session:
            rows = list(session.execute(query.order_by(DecisionRow.id.desc()).limit(limit)).scalars())
            corrections = self._corrections_by_decision(session, [r.id for r in rows])
            return [_decision_view(r, corrections.get(r.id)) for r in rows]

    def decision(self, decision_id: int) -> Optional[DecisionView]:
        with self.Session() as session:
            row = session.get(DecisionRow, decision_id)
            if row is None:
                return None
            return _decision_view(row, self._corrections_by_decision(session, [row.id]).get(row.id))

    def decisions_of(self, channel: str, conversation_id: str) -> List[DecisionView]:
        with self.Session() as session:
            rows = list(session.execute(select(DecisionRow).where(
                DecisionRow.channel == channel, DecisionRow.conversation_id == conversation_id)
                .order_by(DecisionRow.id)).scalars())
            corrections = self._corrections_by_decision(session, [r.id for r in rows])
            return [_decision_view(r, corrections.get(r.id)) for r in rows]

    def decisions_of_customer(self, customer_id: str, limit: int = 200) -> List[DecisionView]:
        """The customer's messages the bot decided on (all channels), newest first."""
        with self.Session() as session:
            rows = list(session.execute(select(DecisionRow).where(DecisionRow.customer_id == customer_id)
                                        .order_by(DecisionRow.id.desc()).limit(limit)).scalars())
            corrections = self._corrections_by_decision(session, [r.id for r in rows])
            return [_decision_view(r, corrections.get(r.id)) for r in rows]

    @staticmethod
    def _corrections_by_decision(session, ids: Sequence[int]) -> Dict[int, CorrectionView]:
        if not ids:
            return {}
        found: Dict[int, CorrectionView] = {}
        for row in session.execute(select(CorrectionRow).where(CorrectionRow.decision_id.in_(list(ids)))
                                   .order_by(CorrectionRow.id)).scalars():
            found[row.decision_id] = _correction_view(row)
        return found

    # -- corrections -----------------------------------------------------------------------
    def correct(self, staff: str, topic: str, route: str, *, text: str, channel: str, conversation_id: str,
                old_topic: str, old_route: str, language: str = "de", decision_id: Optional[int] = None,
                handoff_id: Optional[int] = None, kb_gap: bool = False) -> CorrectionView:
        """Store a correction (and, on a handoff, its audit event) in one transaction."""
        if topic not in TOPICS or route not in ROUTES:
            raise CorrectionError("Choose a topic and a route from the list.")
        now = self.clock()
        with self.Session.begin() as session:
            row = CorrectionRow(decision_id=decision_id, handoff_id=handoff_id, channel=channel,
                                conversation_id=conversation_id, text=text, language=language or "de",
                                old_topic=old_topic, old_route=old_route, topic=topic, route=route,
                                kb_gap=bool(kb_gap), staff=staff, at=now, review="pending")
            session.add(row)
            if handoff_id is not None:
                detail = f"{old_topic}/{old_route} → {topic}/{route}" + (" · kb_gap" if kb_gap else "")
                session.add(AuditEvent(handoff_id=handoff_id, actor=staff, action="correction", detail=detail, at=now))
            session.flush()
            view = _correction_view(row)
        logs.event(log, "classification_corrected", staff=staff, correction_id=view.id, decision_id=decision_id,
                   handoff_id=handoff_id, old_topic=old_topic, topic=topic, route=route)
        return view

    def corrections(self, review: Optional[str] = None, unexported: bool = False, handoff_id: Optional[int] = None,
                    kb_gap: Optional[bool] = None, since: Optional[dt.datetime] = None,
                    until: Optional[dt.datetime] = None) -> List[CorrectionView]:
        query = select(CorrectionRow)
        if review:
            query = query.where(CorrectionRow.review == review)
        if unexported:
            query = query.where(CorrectionRow.learn_run_id.is_(None))
        if handoff_id is not None:
            query = query.where(CorrectionRow.handoff_id == handoff_id)
        if kb_gap is not None:
            query = query.where(CorrectionRow.kb_gap == kb_gap)
        if since is not None:
            query = query.where(CorrectionRow.at >= since)
        if until is not None:
            query = query.where(CorrectionRow.at < until)
        with self.Session() as session:
            return [_correction_view(r) for r in session.execute(query.order_by(CorrectionRow.id)).scalars()]

    def set_review(self, correction_id: int, review: str) -> bool:
        if review not in REVIEWS:
            raise CorrectionError("A review is pending, accepted or dropped.")
        with self.Session.begin() as session:
            row = session.get(CorrectionRow, correction_id)
            if row is None:
                return False
            row.review = review
            return True

    def per_topic(self, since: Optional[dt.datetime] = None, until: Optional[dt.datetime] = None) -> Dict[str, int]:
        """Corrections per topic the bot had chosen (its live errors)."""
        query = select(CorrectionRow.old_topic, func.count(CorrectionRow.id)).group_by(CorrectionRow.old_topic)
        if since is not None:
            query = query.where(CorrectionRow.at >= since)
        if until is not None:
            query = query.where(CorrectionRow.at < until)
        with self.Session() as session:
            return {topic: count for topic, count in session.execute(query)}

    # -- learning runs -----------------------------------------------------------------------
    def start_run(self, review_file: str, correction_ids: Iterable[int]) -> int:
        """A learning run that exported these corrections (they are not exported again)."""
        with self.Session.begin() as session:
            run = LearnRun(started_at=self.clock(), review_file=review_file, status="exported")
            session.add(run)
            session.flush()
            for correction_id in correction_ids:
                row = session.get(CorrectionRow, correction_id)
                if row is not None:
                    row.learn_run_id = run.id
            return run.id

    def finish_run(self, review_file: str, status: str, report: str, reviews: Dict[int, str]) -> None:
        """Record a run's outcome and the reviews the file carried."""
        with self.Session.begin() as session:
            run = session.execute(select(LearnRun).where(LearnRun.review_file == review_file)
                                  .order_by(LearnRun.id.desc())).scalars().first()
            if run is not None:
                run.status, run.report = status, report
            for correction_id, review in reviews.items():
                row = session.get(CorrectionRow, correction_id)
                if row is not None and review in REVIEWS:
                    row.review = review

    # -- notes and assignment ----------------------------------------------------------------
    def add_note(self, handoff_id: int, author: str, text: str) -> Optional[NoteView]:
        text = (text or "").strip()
        if not text:
            return None
        now = self.clock()
        with self.Session.begin() as session:
            row = HandoffNote(handoff_id=handoff_id, author=author, text=text[:20000], at=now)
            session.add(row)
            session.add(AuditEvent(handoff_id=handoff_id, actor=author, action="note", detail=text[:200], at=now))
            session.flush()
            return NoteView(row.id, handoff_id, author, row.text, now)

    def notes(self, handoff_id: int) -> List[NoteView]:
        with self.Session() as session:
            return [NoteView(r.id, r.handoff_id, r.author, r.text, utc(r.at)) for r in session.execute(
                select(HandoffNote).where(HandoffNote.handoff_id == handoff_id).order_by(HandoffNote.id)).scalars()]

    def assign(self, handoff_id: int, staff: str, by: str) -> None:
        now = self.clock()
        with self.Session.begin() as session:
            row = session.get(Assignment, handoff_id)
            if row is None:
                session.add(Assignment(handoff_id=handoff_id, staff=staff, assigned_by=by, at=now))
            else:
                row.staff, row.assigned_by, row.at = staff, by, now
            session.add(AuditEvent(handoff_id=handoff_id, actor=by, action="assigned", detail=staff, at=now))

    def assignees(self, handoff_ids: Optional[Sequence[int]] = None) -> Dict[int, str]:
        query = select(Assignment.handoff_id, Assignment.staff)
        if handoff_ids is not None:
            query = query.where(Assignment.handoff_id.in_(list(handoff_ids)))
        with self.Session() as session:
            return {h: s for h, s in session.execute(query)}

    def assigned_to(self, staff: str) -> List[int]:
        with self.Session() as session:
            return list(session.execute(select(Assignment.handoff_id).where(Assignment.staff == staff)).scalars())


def record_decision(store, routed, conversation_id: str, handoff_id: Optional[int] = None) -> Optional[int]:
    """The one call a channel makes where it routes: the decision into the record
    (`store`: the channel's HandoffStore, or a function that returns it). Never raises:
    a failure is logged and the channel answers anyway."""
    try:
        store = store() if callable(store) else store
        return Feedback(store.engine).record(routed, conversation_id, handoff_id)
    except IntegrityError:  # the same message from two workers at once
        return None
    except (SQLAlchemyError, Exception) as exc:  # noqa: BLE001 - the record must not stop a reply
        logs.event(log, "decision_not_recorded", logging.ERROR, conversation_id=conversation_id, error=str(exc))
        return None
