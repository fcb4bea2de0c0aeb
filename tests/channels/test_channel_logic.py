"""Pure decisions of the phone and widget channels, table-style."""
from __future__ import annotations

import json

import pytest

from ks1bot.channels.call import call_response, parse_call_request
from ks1bot.channels.call_flow import call_step


@pytest.mark.parametrize("transcript, confidence, repeats, step", [
    ("ks1 stürzt ab", 0.9, 0, "route"),
    ("ks1 stürzt ab", None, 0, "route"),
    ("ks1 stürzt ab", 0.6, 0, "route"),  # 0.6 is enough
    ("ks1 stürzt ab", 0.59, 0, "repeat"),
    ("", None, 0, "repeat"),
    ("   ", 0.99, 0, "repeat"),
    ("rauschen", 0.2, 1, "handoff"),
    ("", None, 1, "handoff"),
    ("jetzt klar", 0.95, 1, "route"),
])
def test_call_step(transcript, confidence, repeats, step):
    assert call_step(transcript, confidence, repeats) == step


@pytest.mark.parametrize("body, fragment", [
    (b"{", "not valid JSON"),
    (b"[]", "JSON object"),
    (json.dumps({"caller": "+49"}).encode(), "call_id is missing"),
    (json.dumps({"call_id": "c", "transcript": "x"}).encode(), "caller is missing"),
    (json.dumps({"call_id": "c", "caller": "+49", "transcript": 5}).encode(), "transcript must be a string"),
    (json.dumps({"call_id": "c", "caller": "+49", "asr_confidence": "high"}).encode(), "asr_confidence"),
    (json.dumps({"call_id": "c", "caller": "+49", "language": "fr"}).encode(), "language must be de or en"),
])
def test_bad_call_requests(body, fragment):
    request, problem = parse_call_request(body)
    assert request is None and fragment in problem


def test_call_request_defaults_and_limits():
    request, problem = parse_call_request(json.dumps(
        {"call_id": " c1 ", "caller": "+4923112233", "transcript": "x" * 50_000}).encode())
    assert problem is None
    assert request["call_id"] == "c1" and request["asr_confidence"] is None
    assert len(request["transcript"]) == 20_000


def test_call_response_joins_the_turn():
    messages = [{"text": "Danke für Ihren Anruf."},
                {"custom": {"ks1bot": {"route": "handoff", "topic": "bug_report", "reasons": ["r"], "handoff_id": 7}}}]
    assert call_response(messages) == {"speak": "Danke für Ihren Anruf.", "route": "handoff",
                                       "topic": "bug_report", "reasons": ["r"], "handoff_id": 7}


def test_missed_answers_after_a_drop():
    from ks1bot.channels.widget import missed_answers

    events = [
        {"event": "user", "timestamp": 10.0, "text": "Hallo"},
        {"event": "bot", "timestamp": 10.5, "text": "Guten Tag!"},
        {"event": "user", "timestamp": 20.0, "text": "Updates?"},
        {"event": "bot", "timestamp": 21.0, "text": "Updates kommen über das Update Tool."},
    ]
    assert missed_answers(events, 15.0) == {
        "messages": [{"text": "Updates kommen über das Update Tool.", "timestamp": 21.0}], "unanswered": False}
    assert missed_answers(events[:3], 15.0) == {"messages": [], "unanswered": True}
    assert missed_answers(events, 30.0) == {"messages": [], "unanswered": False}
