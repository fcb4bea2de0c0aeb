"""Rasa input channel for the phone system: POST /webhooks/call.

Request:  {"call_id": str, "caller": E.164 number, "transcript": str,
           "asr_confidence": 0..1 (optional), "language": "de"|"en" (optional)}
Response: {"speak": text for the voice system, "route", "topic", "reasons",
           "handoff_id" (when a callback task was created)}

The same call_id continues the conversation (it is the Rasa conversation id).
"""
from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from ks1bot.core import logs

log = logging.getLogger("ks1bot.channels.call")
MAX_TRANSCRIPT_CHARS = 20_000


def parse_call_request(body: bytes) -> "tuple[Optional[Dict[str, Any]], Optional[str]]":
    """(request, None) or (None, one sentence saying what is wrong)."""
    try:
        data = json.loads(body or b"")
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None, "The body is not valid JSON; send {\"call_id\", \"caller\", \"transcript\"}."
    if not isinstance(data, dict):
        return None, "The body must be a JSON object with call_id, caller and transcript."
    for key in ("call_id", "caller"):
        if not isinstance(data.get(key), str) or not data[key].strip():
            return None, f"{key} is missing; every request needs call_id, caller and transcript."
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
        "call_id": data["call_id"].strip()[:200],
        "caller": data["caller"].strip()[:64],
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
            call, problem = parse_call_request(request.body)
            if call is None:
                logs.event(log, "call_request_rejected", logging.WARNING, problem=problem)
                return response.json({"error": problem}, status=400)
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
            text = call["transcript"] if call["transcript"].strip() else "/EXTERNAL_unclear"
            await on_new_message(UserMessage(text, collector, call["call_id"], input_channel=self.name(),
                                             metadata=metadata))
            answer = call_response(collector.messages)
            logs.event(log, "call_turn", conversation_id=call["call_id"], route=answer["route"],
                       topic=answer["topic"], handoff_id=answer.get("handoff_id"))
            return response.json(answer)

        return blueprint
