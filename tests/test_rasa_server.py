"""`python -m ks1bot.app.rasa_server`: Rasa with the action-answer schema checked once."""
from __future__ import annotations

import jsonschema
import pytest
from rasa.core.actions.action import RemoteAction

from ks1bot.app.rasa_server import SchemaValidatorCache, install_schema_cache

GOOD = {"events": [{"event": "slot", "timestamp": None, "name": "last_route", "value": "answer"}],
        "responses": [{"text": "Guten Tag", "custom": {"ks1bot": {"route": "answer"}}}]}
BAD = {"events": [{"event": "slot", "timestamp": "yesterday", "name": "last_route", "value": "answer"}],
       "responses": []}


@pytest.fixture
def cached(monkeypatch):
    monkeypatch.setattr(jsonschema, "validate", jsonschema.validate)  # undone after the test
    return install_schema_cache()


def test_rasa_still_accepts_a_good_action_answer_and_rejects_a_bad_one(cached):
    action = RemoteAction("action_route", None)
    assert action._validate_action_result(GOOD) is True
    with pytest.raises(jsonschema.ValidationError) as caught:
        action._validate_action_result(BAD)
    assert "Failed to validate Action server response" in caught.value.message


def test_the_same_error_as_jsonschema_and_one_check_per_schema(cached, monkeypatch):
    schema = RemoteAction("action_route", None).action_response_format_spec()
    with pytest.raises(jsonschema.ValidationError) as original:
        cached._original(BAD, schema)
    with pytest.raises(jsonschema.ValidationError) as ours:
        cached(BAD, schema)
    assert (ours.value.message, list(ours.value.path)) == (original.value.message, list(original.value.path))

    checks = []
    validator_class = jsonschema.validators.validator_for(schema)
    monkeypatch.setattr(validator_class, "check_schema", classmethod(lambda cls, s: checks.append(s)))
    for _ in range(3):
        cached(GOOD, RemoteAction("action_route", None).action_response_format_spec())
    assert checks == []  # checked when first seen, above


def test_a_broken_schema_is_still_reported():
    cache = SchemaValidatorCache(jsonschema.validate)
    with pytest.raises(jsonschema.SchemaError):
        cache({}, {"type": "no-such-type"})
    with pytest.raises(jsonschema.SchemaError):
        cache({}, {"type": "no-such-type"})


def test_install_is_idempotent(cached):
    assert install_schema_cache() is cached
    assert jsonschema.validate is cached
