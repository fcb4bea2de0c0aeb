"""Channels hand conversations to staff through these two functions."""
from __future__ import annotations

from typing import Optional

from console.store import HandoffStore, NewHandoff
from ks1bot.service import Routed


def handoff_from_routed(routed: Routed, conversation_id: str, source_message_id: Optional[str] = None,
                        callback_number: Optional[str] = None) -> NewHandoff:
    """Everything staff need about a message the router handed off."""
    message, decision, customer = routed.message, routed.decision, routed.customer
    draft = decision.knowledge
    return NewHandoff(
        channel=message.channel,
        conversation_id=conversation_id,
        sender=message.sender,
        topic=decision.topic,
        confidence=decision.confidence,
        reasons=decision.reasons,
        priority=decision.priority,
        language=routed.language,
        customer_text=message.text if not message.subject else f"{message.subject}\n\n{message.text}",
        acknowledgement=routed.reply,
        subject=message.subject,
        customer_id=customer.customer_id if customer else None,
        customer_name=customer.name if customer else None,
        contract=customer.contract if customer else None,
        drafted_answer=draft.body if draft else None,
        drafted_source=f"kb:{draft.article_id} · {draft.title}" if draft else None,
        callback_number=callback_number,
        source_message_id=source_message_id or f"{message.channel}:{conversation_id}:{message.id}",
        created_at=message.received_at,
    )


def record_handoff(store: HandoffStore, routed: Routed, conversation_id: str,
                   source_message_id: Optional[str] = None, callback_number: Optional[str] = None) -> int:
    return store.create(handoff_from_routed(routed, conversation_id, source_message_id, callback_number))


def email_handoff_recorder(store: HandoffStore):
    """For the mail gateway: a new handoff per handed-off mail, and a customer's further
    mail in a thread that is with staff added to that handoff (both once per Message-ID)."""

    def record(routed: Routed, conversation_id: str, message_id: str, followup: bool) -> None:
        existing = store.open_handoff_for("email", conversation_id) if followup else None
        if existing is None:
            record_handoff(store, routed, conversation_id, source_message_id=message_id)
            return
        message = routed.message
        text = message.text if not message.subject else f"{message.subject}\n\n{message.text}"
        store.add_customer_message(existing, message.sender, text, message.received_at, source_message_id=message_id)

    return record
