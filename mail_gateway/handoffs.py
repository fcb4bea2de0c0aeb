"""Email threads and the conversation record (the handoff store).

Whether a thread is with staff is read from the store, never kept in the mail queue; a
handed-off mail opens a handoff, and a customer's further mail in a thread that is with
staff is added to it (both once per Message-ID, so a retry after a crash neither loses
nor doubles it).
"""
from __future__ import annotations

from ks1bot.conversations.intake import record_handoff
from ks1bot.conversations.store import HandoffStore
from ks1bot.nlu.router import Routed

CHANNEL = "email"


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
