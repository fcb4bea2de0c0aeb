"""Rasa input channel for the phone system: POST /webhooks/call.

Request:  X-KS1-Timestamp: Unix seconds, X-KS1-Signature: sha256=HMAC-SHA256(secret,
          timestamp + "." + body) with KS1BOT_CALL_SECRET (README, "Phone calls");
          {"call_id": str, "caller": E.164 number, "transcript": str,
           "asr_confidence": 0..1 (optional), "language": "de"|"en" (optional)}
Response: {"speak": text for the voice system, "route", "topic", "reasons",
           "handoff_id" (when a callback task was created)}

The same call_id continues the conversation (it is the Rasa conversation id). Unsigned,
wrongly signed, stale (timestamp more than the replay window away) and replayed requests
get 401; a malformed body 400; above the size limit 413; above the rate limit per call 429.
"""
from __future__ import annotations

import datetime as dt
import logging
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from ks1bot.channels import public
from ks1bot.core import logs
from ks1bot.core.tokens import TokenError, verify_request

log = logging.getLogger("ks1bot.channels.call")
MAX_TRANSCRIPT_CHARS = 20_000
SHAPE = 'like {"call_id": "…", "caller": "+49…", "transcript": "…"}'


def parse_call_request(body: bytes) -> "tuple[Optional[Dict[str, Any]], Optional[str]]":
    """(request, None) or (None, one sentence saying what is wrong)."""
    data, problem = public.read_json_object(body, SHAPE)
    if data is None:
        return None, problem
    for key in ("call_id", "caller"):
        if not isinstance(data.get(key), str) or not data[key].strip():
            return None, f"{key} is missing; every request needs call_id, caller and transcript."
        if public.printable_id(data[key], 200 if key == "call_id" else 64) is None:
            return None, f"{key} is too long or has control characters."
    transcript = data.get("transcript", "")
    if transcript is None:
        transcript = ""
    if not isinstance(transcript, str):
        return None, "transcript must be a string (it may be empty)."
    confidence = data.get("asr_confidence")
    if confidence is not None and (isinstance(confidence, bool) or not isinstance(confidence, (int, float))
                                   or not 0 <= confidence <= 1):
        return None, "asr_confidence must be a number between 0 and 1."
    language = data.get("language")
    if language is not None and language not in ("de", "en"):
        return None, "language must be de or en when given."
    return {
        "call_id": data["call_id"].strip(),
        "caller": data["caller"].strip(),
        "transcript": transcript[:MAX_TRANSCRIPT_CHARS],
        "asr_confidence": confidence,
        "language": language,
    }, None


def call_response(messages) -> Dict[str, Any]:
    """The voice system's answer from what the bot sent in this turn."""
    texts = [m["text"] for m in messages if m.get("text")]
    decision = next((m["custom"]["ks1bot"] for m in messages
                     if isinstance(m.get("custom"), dict) and "ks1bot" in m["custom"]), {})
    answer = {"speak": " ".join(texts), "route": decision.get("route"), "topic": decision.get("topic"),
              "reasons": decision.get("reasons", [])}
    if decision.get("handoff_id") is not None:
        answer["handoff_id"] = decision["handoff_id"]
    return answer


class CallInput(InputChannel):
    @classmethod
    def name(cls) -> Text:
        return "call"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        logs.configure_own_loggers()
        blueprint = Blueprint("call_webhook", __name__)

        @blueprint.route("", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            surface = public.current()
            if surface is None:
                return response.json({"error": public.NOT_CONFIGURED}, status=503)

            def refuse(problem: str, status: int, headers: Optional[Dict[str, str]] = None) -> HTTPResponse:
                logs.event(log, "call_request_rejected", logging.WARNING, status=status, problem=problem)
                return response.json({"error": problem}, status=status, headers=headers)

            body = request.body or b""
            if len(body) > surface.max_message_bytes:
                problem, status = public.too_large(surface.max_message_bytes)
                return refuse(problem["error"], status)
            if not surface.secrets.call_keys:
                return refuse("The phone webhook has no secret yet: set KS1BOT_CALL_SECRET for the bot and "
                              "the phone system.", 503)
            try:
                nonce = verify_request(surface.secrets.call_keys, request.headers.get("x-ks1-timestamp"),
                                       request.headers.get("x-ks1-signature"), body, surface.clock(),
                                       surface.replay_window)
            except TokenError as exc:
                return refuse(str(exc)[0].upper() + str(exc)[1:], 401)
            if not surface.replays.first_time(nonce):
                return refuse("This signed request was already received (a replay); sign every request afresh, "
                              "with its own timestamp.", 401)
            call, problem = parse_call_request(body)
            if call is None:
                return refuse(problem, 400)
            wait = surface.over_limit((surface.conversation_limit, f"call:{call['call_id']}"))
            if wait:
                problem, status, headers = public.rate_limited(wait)
                return refuse(problem["error"], status, headers)
            collector = CollectingOutputChannel()
            metadata = {
                "channel": "call",
                "sender": call["caller"],
                "received_at": dt.datetime.now(dt.timezone.utc).isoformat(),
                "asr_confidence": call["asr_confidence"],
                "language": call["language"],
                "original_text": call["transcript"],
            }
            # An empty transcript has nothing to classify: it goes in as an external event.
            spoken = public.customer_text(call["transcript"])
            text = spoken if spoken.strip() else "/EXTERNAL_unclear"
            await on_new_message(UserMessage(text, collector, call["call_id"], input_channel=self.name(),
                                             metadata=metadata))
            answer = call_response(collector.messages)
            logs.event(log, "call_turn", conversation_id=call["call_id"], route=answer["route"],
                       topic=answer["topic"], handoff_id=answer.get("handoff_id"))
            return response.json(answer)

        return blueprint
