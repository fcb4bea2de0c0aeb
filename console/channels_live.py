"""The reply channels of a running installation (email through the mail gateway, chat
through the Rasa server, phone as callback tasks)."""
from __future__ import annotations

from console.channels import ReplyChannels
from ks1bot.settings import Settings


def live_channels(settings: Settings) -> ReplyChannels:
    return ReplyChannels()
