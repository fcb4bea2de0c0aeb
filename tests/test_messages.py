from __future__ import annotations

import datetime as dt
import json

import pytest

from ks1bot.core.messages import InboundMessage, InputError, parse_route_line


def line(**fields):
    base = {"id": "m1", "channel": "chat", "received_at": "2026-11-17T11:20:00+01:00",
            "sender": "a@b.de", "text": "Hallo"}
    base.update(fields)
    return json.dumps({k: v for k, v in base.items() if v is not ...})


def test_valid_line():
    msg = parse_route_line(line(subject="Frage"))
    assert isinstance(msg, InboundMessage)
    assert msg.received_at == dt.datetime(2026, 11, 17, 10, 20, tzinfo=dt.timezone.utc)
    assert msg.subject == "Frage"


def test_z_suffix_is_utc():
    msg = parse_route_line(line(received_at="2026-11-20T13:00:00Z"))
    assert msg.received_at.utcoffset() == dt.timedelta(0)


@pytest.mark.parametrize(
    "raw, fragment",
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "not a JSON object"),
        (line(text=...), "missing field text"),
        (line(sender=...), "missing field sender"),
        (line(channel="fax"), "unknown channel 'fax'"),
        (line(received_at="2026-11-17T11:20:00"), "has no UTC offset"),
        (line(received_at="yesterday"), "no UTC offset"),
        (line(received_at="2026-13-45T11:20:00+01:00"), "not an ISO-8601 timestamp"),
        (line(text="   "), "text is empty"),
        (line(text=5), "text must be a string"),
        (line(id=""), "id must be"),
    ],
)
def test_bad_lines_name_the_problem(raw, fragment):
    result = parse_route_line(raw)
    assert isinstance(result, InputError)
    assert fragment in result.error


def test_error_keeps_the_id_when_there_is_one():
    result = parse_route_line(line(channel="fax"))
    assert result.id == "m1"
