"""Email threads and the conversation record (the handoff store and its files).

Whether a thread is with staff is read from the store, never kept in the mail queue; a
handed-off mail opens a handoff, and a customer's further mail in a thread that is with
staff is added to it (both once per Message-ID, so a retry after a crash neither loses
nor doubles it). A mail's files are stored with the conversation (once per Message-ID).
A mail the gateway could not read or route opens a handoff of its own, with the original
mail attached (`record_failure`).
"""
from __future__ import annotations

import datetime as dt
from typing import Optional, Sequence

from ks1bot.conversations.attachments import NewFile
from ks1bot.conversations.intake import record_handoff
from ks1bot.conversations.store import HandoffStore, NewHandoff
from ks1bot.nlu.router import Routed

CHANNEL = "email"
#: The topic of a handoff nobody classified (the mail could not be read or routed).
UNCLASSIFIED = "unclassified"


class EmailHandoffs:
    def __init__(self, store: HandoffStore) -> None:
        self.store = store

    def with_staff(self, conversation_id: str, message_id: str) -> bool:
        """The thread has an open (or claimed) handoff: the bot does not answer the mail.
        A handoff this very mail opened does not count: deciding on it again after a crash
        must give the same outcome as the first time."""
        return self.store.open_handoff_for(CHANNEL, conversation_id, not_from=message_id) is not None

    def record(self, routed: Routed, conversation_id: str, message_id: str, followup: bool) -> None:
        """A new handoff for a handed-off mail; a follow-up in a thread with staff joins
        its open handoff."""
        existing = self.store.open_handoff_for(CHANNEL, conversation_id, not_from=message_id) if followup else None
        if existing is None:
            record_handoff(self.store, routed, conversation_id, source_message_id=message_id)
            return
        message = routed.message
        text = message.text if not message.subject else f"{message.subject}\n\n{message.text}"
        self.store.add_customer_message(existing, message.sender, text, message.received_at,
                                        source_message_id=message_id)

    def save_files(self, conversation_id: str, message_id: str, files: Sequence[NewFile], max_bytes: int,
                   keys: Optional[Sequence[str]] = None) -> int:
        """Store a mail's files with its conversation; returns how many were stored."""
        if not files or self.store.files is None:
            return 0
        saved = self.store.files.save_message_files(CHANNEL, conversation_id, message_id, files, max_bytes, keys)
        return sum(1 for f in saved if f.stored)

    def record_failure(self, conversation_id: str, message_id: str, sender: str, subject: str, text: str,
                       language: str, reasons: Sequence[str], acknowledgement: str,
                       received_at: dt.datetime, drafted_answer: Optional[str] = None) -> int:
        """A handoff for a mail the gateway could not read, route or answer (once per
        Message-ID)."""
        return self.store.create(NewHandoff(
            channel=CHANNEL, conversation_id=conversation_id, sender=sender, topic=UNCLASSIFIED, confidence=0.0,
            reasons=tuple(reasons), priority="normal", language=language,
            customer_text=text if not subject else f"{subject}\n\n{text}", acknowledgement=acknowledgement,
            subject=subject or None, source_message_id=message_id, created_at=received_at,
            drafted_answer=drafted_answer, drafted_source="the bot's reply that could not be delivered"
            if drafted_answer else None))
