"""Staff replies leave through the channel the conversation came in on."""
from __future__ import annotations

import logging
from typing import Callable, Dict, Optional

from console.store import HandoffView
from ks1bot import logs

log = logging.getLogger("console.channels")

#: channel -> function(handoff, text, staff) returning a short note for the audit trail.
Sender = Callable[[HandoffView, str, str], str]
#: channel -> function(handoff) called when a handoff is resolved or handed back.
Notifier = Callable[[HandoffView], None]


class ChannelError(Exception):
    """The reply could not be delivered; the message says why."""


def callback_done(handoff: HandoffView, text: str, staff: str) -> str:
    """Phone: the callback task is done; the staff note is the record of the call."""
    return f"callback to {handoff.callback_number or handoff.sender} done"


def email_reply(handoff: HandoffView, text: str, staff: str) -> str:
    """Email: a threaded reply through the mail gateway's sender."""
    from mail_gateway import api

    api.send_staff_reply(handoff.conversation_id, text, staff)
    return f"email to {handoff.sender}"


class ReplyChannels:
    def __init__(self, senders: Optional[Dict[str, Sender]] = None,
                 on_hand_back: Optional[Dict[str, Notifier]] = None,
                 on_resolve: Optional[Dict[str, Notifier]] = None) -> None:
        self.senders: Dict[str, Sender] = {"email": email_reply, "call": callback_done}
        self.senders.update(senders or {})
        self.on_hand_back = dict(on_hand_back or {})
        self.on_resolve = dict(on_resolve or {})

    def sender_for(self, staff: str) -> Callable[[HandoffView, str], str]:
        def send(handoff: HandoffView, text: str) -> str:
            sender = self.senders.get(handoff.channel)
            if sender is None:
                raise ChannelError(f"replies to {handoff.channel} conversations are not available yet")
            return sender(handoff, text, staff)
        return send

    def handed_back(self, handoff: HandoffView) -> None:
        notifier = self.on_hand_back.get(handoff.channel)
        if notifier is not None:
            notifier(handoff)
        logs.event(log, "handed_back_to_bot", handoff_id=handoff.id, channel=handoff.channel,
                   conversation_id=handoff.conversation_id)

    def resolved(self, handoff: HandoffView) -> None:
        notifier = self.on_resolve.get(handoff.channel)
        if notifier is not None:
            notifier(handoff)
