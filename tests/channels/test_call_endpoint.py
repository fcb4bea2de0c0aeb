"""POST /webhooks/call against the running bot (what `make run` serves), signed as the
phone system signs it (tests/security/test_webhooks.py: what happens without)."""
from __future__ import annotations

import uuid

import pytest

from tests.support.public_clients import signed_call


def call(bot, body, raw=False):
    status, answer, _ = signed_call(bot, None if raw else body, raw=body if raw else None)
    return status, answer


def store_of(bot):
    return bot.handoffs()


@pytest.mark.slow
def test_malformed_json_is_400_with_a_message(live_bot):
    status, body = call(live_bot, b"{not json", raw=True)
    assert status == 400 and "not valid JSON" in body["error"]


@pytest.mark.slow
def test_missing_caller_is_400(live_bot):
    status, body = call(live_bot, {"call_id": "c-x", "transcript": "hallo"})
    assert status == 400 and "caller is missing" in body["error"]
    status, body = call(live_bot, {"call_id": "c-x", "caller": "+4923112233", "transcript": "x", "asr_confidence": 7})
    assert status == 400 and "asr_confidence" in body["error"]


@pytest.mark.slow
def test_empty_transcript_asks_to_repeat(live_bot):
    status, body = call(live_bot, {"call_id": f"c-{uuid.uuid4().hex}", "caller": "+4923112233", "transcript": ""})
    assert status == 200
    assert "noch einmal sagen" in body["speak"]
    assert "handoff_id" not in body


@pytest.mark.slow
def test_two_turns_with_one_call_id(live_bot):
    call_id = f"c-{uuid.uuid4().hex}"
    status, first = call(live_bot, {"call_id": call_id, "caller": "+4923112233",
                                    "transcript": "ja hallo äh hier", "asr_confidence": 0.4})
    assert status == 200 and "noch einmal sagen" in first["speak"]
    status, second = call(live_bot, {"call_id": call_id, "caller": "+4923112233", "asr_confidence": 0.93,
                                     "transcript": "ja hallo meier bau hier äh bei uns stürzt ks1 beim buchen der "
                                                   "lieferscheine immer ab mit einer fehlermeldung"})
    assert status == 200
    assert (second["route"], second["topic"]) == ("handoff", "bug_report")
    assert "zurück" in second["speak"]  # a person calls back
    task = store_of(live_bot).get(second["handoff_id"])
    assert task.channel == "call" and task.callback_number == "+4923112233"
    assert task.conversation_id == call_id and task.customer_id == "C1001"
    # A third turn in the same call: the request is already with staff.
    status, third = call(live_bot, {"call_id": call_id, "caller": "+4923112233", "transcript": "hallo noch da"})
    assert "bereits bei einem Mitarbeiter" in third["speak"] and third["handoff_id"] == second["handoff_id"]


@pytest.mark.slow
def test_unclear_twice_becomes_a_callback_task(live_bot):
    call_id = f"c-{uuid.uuid4().hex}"
    call(live_bot, {"call_id": call_id, "caller": "+442071234567", "transcript": "mmh", "asr_confidence": 0.2,
                    "language": "en"})
    status, body = call(live_bot, {"call_id": call_id, "caller": "+442071234567", "transcript": "krrr",
                                   "asr_confidence": 0.3, "language": "en"})
    assert body["route"] == "handoff" and "low_asr_confidence" in body["reasons"]
    assert "call you back" in body["speak"]
    assert store_of(live_bot).get(body["handoff_id"]).callback_number == "+442071234567"


@pytest.mark.slow
def test_a_question_the_bot_answers_on_the_phone(live_bot):
    status, body = call(live_bot, {"call_id": f"c-{uuid.uuid4().hex}", "caller": "+498912345678",
                                   "transcript": "grüß gott äh wir bräuchten mal eine vpn verbindung zu unserer "
                                                 "filiale können sie uns die einrichten", "asr_confidence": 0.88})
    assert body["route"] == "exclude" and body["topic"] == "network"
    assert "Systemadministrator" in body["speak"]
