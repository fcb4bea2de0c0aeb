"""The chat widget's socket.io channel, with sessions the bot issues and binds, and the
delivery of staff replies and hand-backs from the outbox (`chat_delivery`).

Rasa's SocketIOInput takes the session id the browser names, in `session_request` and
again in every message: whoever knows (or guesses) an id reads and writes that
conversation. Here:

- **Who**: KS1 web hands the widget a customer token (ks1bot.core.tokens); the loader
  passes it in the socket.io handshake (`?ks1_token=`, or the `auth` payload). A valid
  token is the customer; without one (or with an invalid one) the session is anonymous,
  an unknown customer. Nothing the browser puts into `customData` decides the customer.
- **Which conversation**: `session_request` confirms the credential the browser kept only
  when the bot issued it to the same customer (anonymous: to an anonymous session);
  otherwise it issues a new one. The socket is bound to that conversation on the server:
  `user_uttered` goes to the socket's own conversation, whatever `session_id` it names.
- **Limits**: messages above the size limit, messages faster than the per-conversation
  and per-client rates, and new sessions faster than the per-client rate are refused
  with one sentence in the chat.

Rasa 3.6 also calls `AsyncServer.enter_room` without awaiting it (a coroutine in the
python-socketio release pinned here); this channel awaits it.
"""
from __future__ import annotations

import inspect
import json
import logging
import urllib.parse
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.socketio import SocketBlueprint, SocketIOInput, SocketIOOutput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from socketio import AsyncServer

from ks1bot.channels import chat_delivery, public
from ks1bot.core import logs
from ks1bot.core.replies import phrase
from ks1bot.core.tokens import CustomerIdentity, TokenError, issue_session, session_conversation, \
    verify_customer_token

log = logging.getLogger("ks1bot.channels.chat")
#: The handshake query parameter that carries the customer token.
TOKEN_PARAMETER = "ks1_token"


@dataclass
class Client:
    """One browser socket: where it comes from, who it is, which conversation it is bound to."""

    address: str
    identity: Optional[CustomerIdentity] = None
    conversation: Optional[str] = None


def handshake_token(environ: Dict[str, Any], auth: Any) -> Optional[str]:
    if isinstance(auth, dict) and isinstance(auth.get("token"), str):
        return auth["token"]
    values = urllib.parse.parse_qs(environ.get("QUERY_STRING") or "").get(TOKEN_PARAMETER)
    return values[0] if values else None


def custom_data(value: Any) -> Dict[str, Any]:
    """The widget's customData (an object, or JSON text of one); anything else is ignored."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except (ValueError, RecursionError):
            return {}
    return value if isinstance(value, dict) else {}


class ChatInput(SocketIOInput):
    @classmethod
    def name(cls) -> Text:
        return "socketio"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        logs.configure_own_loggers()
        surface = public.current()
        limit = surface.max_message_bytes if surface else 65536
        # CORS is the Rasa server's (configured origins); a frame may carry one message and its JSON.
        sio = AsyncServer(async_mode="sanic", cors_allowed_origins=[], max_http_buffer_size=2 * limit + 4096)
        blueprint = SocketBlueprint(sio, self.socketio_path, "socketio_webhook", __name__)
        self.sio = sio
        clients: Dict[str, Client] = {}
        namespace = self.namespace

        @blueprint.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        async def say(sid: str, key: str, language: str, **fields: Any) -> None:
            await sio.emit(self.bot_message_evt, {"text": phrase(key, language, **fields)}, room=sid,
                           namespace=namespace)

        @sio.on("connect", namespace=namespace)
        async def connect(sid: Text, environ: Dict, auth: Optional[Dict] = None) -> bool:
            if surface is None:
                logs.event(log, "chat_refused", logging.ERROR, reason=public.NOT_CONFIGURED)
                return False
            request = environ.get("sanic.request")
            peer = getattr(request, "ip", None) or environ.get("REMOTE_ADDR")
            client = Client(surface.client_of(peer, environ.get("HTTP_X_FORWARDED_FOR")))
            token = handshake_token(environ, auth)
            if token:
                try:
                    client.identity = verify_customer_token(token, surface.secrets.widget_token_keys,
                                                            surface.clock())
                except TokenError as exc:  # the chat still works, for an unknown customer
                    logs.event(log, "widget_token_refused", logging.WARNING, client=client.address, reason=str(exc))
            clients[sid] = client
            return True

        @sio.on("disconnect", namespace=namespace)
        async def disconnect(sid: Text) -> None:
            clients.pop(sid, None)

        @sio.on("session_request", namespace=namespace)
        async def session_request(sid: Text, data: Any) -> None:
            client = clients.get(sid)
            if client is None or surface is None:
                return
            keys = surface.secrets.session_keys
            given = data.get("session_id") if isinstance(data, dict) else None
            conversation = session_conversation(given, keys, client.identity) if given else None
            credential = given
            if conversation is None:
                wait = surface.over_limit((surface.session_limit, f"sessions:{client.address}"))
                if wait:
                    logs.event(log, "widget_session_refused", logging.WARNING, client=client.address)
                    await say(sid, "chat_too_many_sessions", "de", seconds=int(wait) + 1)
                    return
                credential = issue_session(keys, client.identity)
                conversation = credential.split(".", 1)[0]
                logs.event(log, "widget_session_issued", conversation_id=conversation, replaced=bool(given),
                           customer=client.identity.customer_id if client.identity else None)
            if client.conversation and client.conversation != conversation:
                left = sio.leave_room(sid, client.conversation, namespace=namespace)
                if inspect.isawaitable(left):
                    await left
            client.conversation = conversation
            joined = sio.enter_room(sid, conversation, namespace=namespace)
            if inspect.isawaitable(joined):
                await joined
            await sio.emit("session_confirm", credential, room=sid, namespace=namespace)

        @sio.on(self.user_message_evt, namespace=namespace)
        async def handle_message(sid: Text, data: Any) -> None:
            client = clients.get(sid)
            if client is None or surface is None or not client.conversation or not isinstance(data, dict):
                return  # no session confirmed on this socket: nothing to write to
            custom = custom_data(data.get(self.metadata_key))
            language = custom.get("page_language") if custom.get("page_language") in ("de", "en") else "de"
            text = data.get("message")
            if not isinstance(text, str):
                return
            if len(text.encode("utf-8")) > surface.max_message_bytes:
                await say(sid, "chat_too_long", language, kilobytes=surface.max_message_bytes // 1024)
                return
            text = public.customer_text(text)
            if not text:
                return
            wait = surface.over_limit((surface.conversation_limit, f"chat:{client.conversation}"),
                                      (surface.client_limit, f"chat-client:{client.address}"))
            if wait:
                await say(sid, "chat_too_fast", language, seconds=int(wait) + 1)
                return
            metadata: Dict[str, Any] = {"channel": "chat", "page_language": language}
            if client.identity is not None:
                metadata["ks1bot_identity"] = client.identity.as_metadata()
            await on_new_message(UserMessage(text, SocketIOOutput(sio, self.bot_message_evt), client.conversation,
                                             input_channel=self.name(), metadata=metadata))

        delivery = chat_delivery.registered()
        if delivery is None:
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
