"""Which mail gets an automatic reply: the gateway's decision chain. Pure.

Like Mailman's chains: small named rules run in order; the first that hits decides,
and its name is the stored reason (`ignore` outcomes are never silent). The RFC 3834
header and text checks themselves live in one place, `loop_protection`; this module
adds what needs state: threads with staff (from the conversation record) and rate limits
(counted in the queue).

Only machine mail is ignored. A mail a person may have written but that must not get an
automatic reply (no address to reply to, a noreply@ sender, a colleague, a thread the bot
answered today) goes to staff: FOLLOWUP — a handoff (or the open one of its thread)
without an automatic reply.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Callable, Optional, Sequence, Tuple

IGNORE = "ignore"
FOLLOWUP = "followup"
ROUTE = "route"


@dataclass(frozen=True)
class Limits:
    """Zammad's reference: 10 automatic mails per 10 minutes per recipient."""

    sender_limit: int = 10
    sender_window: dt.timedelta = dt.timedelta(minutes=10)
    thread_replies_per_day: int = 1


@dataclass(frozen=True)
class MailContext:
    """What the rules look at, counted by the caller from the queue."""

    #: The machine rule of loop protection that hit (loop_protection.screen_mail), else None.
    auto_reason: Optional[str]
    #: Whether there is an address a reply could go to.
    has_reply_address: bool
    #: Whether the thread is with staff (an open handoff in the conversation record).
    in_handoff: bool
    #: Automatic replies sent to this address within the sender window.
    replies_to_sender: int
    #: Automatic replies in this thread within the last 24 hours.
    replies_in_thread: int
    #: Loop protection's doubts: a person may have written it, but no automatic reply.
    doubts: Tuple[str, ...] = ()


@dataclass(frozen=True)
class Verdict:
    action: str  # ignore | followup | route
    reason: Optional[str] = None


def _auto_generated(c: MailContext, _l: Limits) -> Optional[str]:
    return f"auto_generated:{c.auto_reason}" if c.auto_reason else None


def _no_reply_address(c: MailContext, _l: Limits) -> Optional[str]:
    return None if c.has_reply_address else "no_sender"


def _doubt(c: MailContext, _l: Limits) -> Optional[str]:
    return f"no_auto_reply:{c.doubts[0]}" if c.doubts else None


def _handoff_followup(c: MailContext, _l: Limits) -> Optional[str]:
    return "handoff_followup" if c.in_handoff else None


def _sender_rate(c: MailContext, l: Limits) -> Optional[str]:
    return "sender_rate_limit" if c.replies_to_sender >= l.sender_limit else None


def _thread_rate(c: MailContext, l: Limits) -> Optional[str]:
    return "thread_reply_limit" if c.replies_in_thread >= l.thread_replies_per_day else None


#: (rule, action when it hits, check). Order matters: machine mail is ignored even in a
#: handoff thread; a mail without any address to answer goes to staff (nobody can be
#: acknowledged); a customer's follow-up in a handoff thread goes to staff whatever the
#: reply limits say; a mail loop protection doubts goes to staff without a reply. A second
#: mail in a thread the bot already answered today is a person writing again: no second
#: automatic reply, but staff get it (a handoff) — ignoring it would lose a customer's
#: mail. The per-sender cap ignores: more than `sender_limit` new threads from one address
#: within minutes, each answered, is a loop with another machine, not a person.
RULES: Sequence[Tuple[str, str, Callable[[MailContext, Limits], Optional[str]]]] = (
    ("auto_generated", IGNORE, _auto_generated),
    ("no_reply_address", FOLLOWUP, _no_reply_address),
    ("handoff_followup", FOLLOWUP, _handoff_followup),
    ("no_auto_reply", FOLLOWUP, _doubt),
    ("sender_rate_limit", IGNORE, _sender_rate),
    ("thread_reply_limit", FOLLOWUP, _thread_rate),
)


def verdict(context: MailContext, limits: Limits) -> Verdict:
    """The first rule that hits, or ROUTE (classify and answer)."""
    for _name, action, check in RULES:
        reason = check(context, limits)
        if reason:
            return Verdict(action, reason)
    return Verdict(ROUTE)
