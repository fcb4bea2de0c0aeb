"""One email thread = one conversation. The conversation id is the Message-ID of the
thread's root, found through In-Reply-To and References (RFC 5322 §3.6.4). Pure."""
from __future__ import annotations

from typing import Callable, Optional, Sequence


def thread_root(
    message_id: str,
    in_reply_to: Sequence[str],
    references: Sequence[str],
    known: Callable[[str], Optional[str]] = lambda _mid: None,
) -> str:
    """The conversation id of a mail.

    `known(message_id)` gives the conversation of a mail we have seen (received or
    sent), else None. The nearest known ancestor wins (In-Reply-To first, then
    References newest first), so a thread stays one conversation even when a client
    cuts References; otherwise the oldest referenced id is the root, and a mail that
    refers to nothing starts its own conversation.
    """
    parents = list(dict.fromkeys(list(in_reply_to) + list(reversed(list(references)))))
    for parent in parents:
        if parent == message_id:
            continue
        conversation = known(parent)
        if conversation:
            return conversation
    if references:
        return references[0]
    if in_reply_to:
        return in_reply_to[0]
    return message_id


def references_for_reply(message_id: str, references: Sequence[str], limit: int = 20) -> tuple:
    """References of a reply: the parent's References plus the parent, keeping the root
    and the newest ids when the list gets long (RFC 5322 §3.6.4)."""
    chain = [r for r in dict.fromkeys(list(references) + [message_id]) if r]
    if len(chain) > limit:
        chain = chain[:1] + chain[-(limit - 1):]
    return tuple(chain)
