"""Channels hand conversations to staff through these two functions (the email
channel's follow-ups in a thread with staff: mail_gateway/handoffs.py)."""
from __future__ import annotations

from typing import Optional

from ks1bot.conversations.store import HandoffStore, NewHandoff
from ks1bot.nlu.router import Routed


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
