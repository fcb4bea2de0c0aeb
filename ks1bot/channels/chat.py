"""The chat widget's socket.io channel: Rasa's, with session rooms that work, and the
delivery of staff replies and hand-backs from the outbox (`chat_delivery`).

Rasa 3.6 calls `AsyncServer.enter_room` without awaiting it; in the python-socketio
release that coexists with Rasa's other pins it is a coroutine, so a browser's socket
never joined its session room and the bot's replies (sent to the room) were lost. This
channel registers the same `session_request` handler with the call awaited. Everything
else is Rasa's SocketIOInput.
"""
from __future__ import annotations

import inspect
import logging
import uuid
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.socketio import SocketIOInput
from sanic import Blueprint

from ks1bot.channels import chat_delivery
from ks1bot.core import logs

log = logging.getLogger("ks1bot.channels.chat")


class ChatInput(SocketIOInput):
    @classmethod
    def name(cls) -> Text:
        return "socketio"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        blueprint = super().blueprint(on_new_message)
        sio = self.sio

        @sio.on("session_request", namespace=self.namespace)
        async def session_request(sid: Text, data: Optional[Dict]) -> None:
            data = data or {}
            if data.get("session_id") is None:
                data["session_id"] = uuid.uuid4().hex
            if self.session_persistence:
                joined = sio.enter_room(sid, data["session_id"], namespace=self.namespace)
                if inspect.isawaitable(joined):
                    await joined
            await sio.emit("session_confirm", data["session_id"], room=sid, namespace=self.namespace)

        delivery = chat_delivery.registered()
        if delivery is None:
            logs.configure_own_loggers()
            logs.event(log, "chat_delivery_off", logging.WARNING,
                       reason="no outbox registered (start Rasa with python -m ks1bot.app.rasa_server): "
                              "staff replies to chat conversations are not delivered")
            return blueprint

        @blueprint.listener("after_server_start")
        async def start_delivery(app, _loop) -> None:
            delivery.start(app)

        @blueprint.listener("before_server_stop")
        async def stop_delivery(_app, _loop) -> None:
            await delivery.stop()

        return blueprint
