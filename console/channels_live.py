"""The reply channels of a running installation: email through the mail gateway, chat
through the Rasa server's external events, phone as callback tasks."""
from __future__ import annotations

import json
import os
import urllib.parse
import urllib.request

from console.channels import ChannelError, ReplyChannels
from console.store import HandoffView
from ks1bot.settings import Settings

DEFAULT_RASA_URL = "http://127.0.0.1:5005"


def rasa_url() -> str:
    """The Rasa server (KS1BOT_RASA_URL, which `ks1bot serve` sets, else port 5005)."""
    return os.environ.get("KS1BOT_RASA_URL", DEFAULT_RASA_URL).rstrip("/")


def trigger_intent(conversation_id: str, intent: str, entities: dict, base_url: str = None) -> None:
    """Rasa HTTP API external event; the bot's answer goes to the conversation's own channel."""
    url = (f"{base_url or rasa_url()}/conversations/{urllib.parse.quote(conversation_id, safe='')}"
           f"/trigger_intent?output_channel=latest")
    request = urllib.request.Request(url, data=json.dumps({"name": intent, "entities": entities}).encode(),
                                     method="POST", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            if answer.status >= 300:
                raise ChannelError(f"the chat server answered {answer.status}")
    except OSError as exc:
        raise ChannelError(f"the chat server cannot be reached ({exc})") from exc


def chat_reply(handoff: HandoffView, text: str, staff: str) -> str:
    trigger_intent(handoff.conversation_id, "EXTERNAL_staff_reply", {"staff_text": text, "staff_name": staff})
    return "chat message to the customer's widget"


def chat_hand_back(handoff: HandoffView) -> None:
    trigger_intent(handoff.conversation_id, "EXTERNAL_hand_back", {})


def email_hand_back(handoff: HandoffView) -> None:
    from mail_gateway import api

    api.hand_back_to_bot(handoff.conversation_id)


def live_channels(settings: Settings) -> ReplyChannels:
    return ReplyChannels(senders={"chat": chat_reply},
                         on_hand_back={"chat": chat_hand_back, "email": email_hand_back})
