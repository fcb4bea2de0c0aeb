"""The REST webhook, POST /webhooks/rest/webhook: for trusted server-to-server clients.

Request:  Authorization: Bearer <KS1BOT_REST_API_KEY>
          {"sender": conversation id, "message": str,
           "metadata"?: {"channel"?: "chat"|"email", "received_at"?, "subject"?, "language"?,
                         "customer_token"?: a customer token signed like KS1 web's}}
Response: Rasa's list of bot messages (the `custom.ks1bot` decision included).

Why an API key and not a per-conversation credential: the browser talks to the bot over
the widget's socket.io channel, whose sessions the bot issues and binds. The REST
webhook's clients are servers (KS1 web's back end, integrations) that choose their own
conversation ids; the key says they are trusted to, and nobody without it can read or
write a conversation here. The customer is still only what a signed customer token says
(`metadata.customer_token`); `metadata.sender` decides nothing.

Every malformed body gets one 400 with one sentence; above the size limit 413; above
the rate limits (per conversation, per API key) 429 with Retry-After.
"""
from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput as RasaRestInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from ks1bot.channels import public
from ks1bot.core import logs
from ks1bot.core.messages import parse_timestamp
from ks1bot.core.tokens import TokenError, matching_key, verify_customer_token

log = logging.getLogger("ks1bot.channels.rest")
SHAPE = 'like {"sender": "conversation id", "message": "text"}'
METADATA_CHANNELS = ("chat", "email")


def rest_message(data: Dict[str, Any]) -> "tuple[Optional[Dict[str, Any]], Optional[str]]":
    """The checked fields of a webhook body: (fields, None) or (None, one sentence)."""
    sender = public.printable_id(data.get("sender"))
    if sender is None:
        return None, "sender must be the conversation id: a non-empty string of at most 128 printable characters."
    message = data.get("message")
    if not isinstance(message, str):
        return None, "message must be a string (the customer's text)."
    message = public.customer_text(message)
    if not message.strip():
        return None, "message is empty; send the customer's text."
    metadata = data.get("metadata")
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, dict):
        return None, "metadata must be a JSON object when given."
    channel = metadata.get("channel", "chat")
    if channel not in METADATA_CHANNELS:
        return None, ("metadata.channel must be chat or email; phone calls come through /webhooks/call "
                      "and mail through the mail gateway.")
    checked: Dict[str, Any] = {"channel": channel}
    if metadata.get("received_at") is not None:
        try:
            parse_timestamp(metadata["received_at"])
        except ValueError as exc:
            return None, f"metadata.{exc}."
        checked["received_at"] = metadata["received_at"]
    for key, limit in (("subject", 998), ("customer_token", 4096)):
        value = metadata.get(key)
        if value is not None and (not isinstance(value, str) or len(value) > limit):
            return None, f"metadata.{key} must be a string of at most {limit} characters when given."
        if value is not None:
            checked[key] = value
    language = metadata.get("language")
    if language is not None and language not in ("de", "en"):
        return None, "metadata.language must be de or en when given."
    if language is not None:
        checked["language"] = language
    return {"sender": sender, "message": message, "metadata": checked}, None


class RestInput(RasaRestInput):
    @classmethod
    def name(cls) -> Text:
        return "rest"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        logs.configure_own_loggers()
        blueprint = Blueprint("rest_webhook", __name__)

        @blueprint.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @blueprint.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            surface = public.current()
            if surface is None:
                return response.json({"error": public.NOT_CONFIGURED}, status=503)

            def refuse(problem: str, status: int, headers: Optional[Dict[str, str]] = None) -> HTTPResponse:
                logs.event(log, "rest_request_refused", logging.WARNING, status=status, problem=problem)
                return response.json({"error": problem}, status=status, headers=headers)

            if len(request.body or b"") > surface.max_message_bytes:
                body, status = public.too_large(surface.max_message_bytes)
                return refuse(body["error"], status)
            keys = surface.secrets.rest_api_keys
            if not keys:
                return refuse("The REST webhook has no API key yet: set KS1BOT_REST_API_KEY for the bot "
                              "and its clients.", 503)
            key_index = matching_key(public.bearer(request.headers.get("authorization")), keys)
            if key_index is None:
                return refuse("Send the REST webhook's API key as Authorization: Bearer <key>.", 401,
                              {"WWW-Authenticate": "Bearer"})
            data, problem = public.read_json_object(request.body, SHAPE)
            if data is None:
                return refuse(problem, 400)
            fields, problem = rest_message(data)
            if fields is None:
                return refuse(problem, 400)
            metadata = fields["metadata"]
            token = metadata.pop("customer_token", None)
            if token is not None:
                try:
                    identity = verify_customer_token(token, surface.secrets.widget_token_keys, surface.clock())
                except TokenError as exc:
                    return refuse(f"metadata.customer_token: {exc}", 401)
                metadata["ks1bot_identity"] = identity.as_metadata()
            wait = surface.over_limit((surface.conversation_limit, f"rest:{fields['sender']}"),
                                      (surface.client_limit, f"rest-key:{key_index}"))
            if wait:
                body, status, headers = public.rate_limited(wait)
                return refuse(body["error"], status, headers)
            collector = CollectingOutputChannel()
            try:
                await on_new_message(UserMessage(fields["message"], collector, fields["sender"],
                                                 input_channel=self.name(), metadata=metadata))
            except Exception as exc:  # as Rasa's REST channel: what the bot said so far
                logs.event(log, "rest_message_failed", logging.ERROR, conversation_id=fields["sender"],
                           error=repr(exc))
            return response.json(collector.messages)

        return blueprint
