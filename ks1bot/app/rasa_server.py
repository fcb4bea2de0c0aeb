"""`python -m ks1bot.app.rasa_server run …`: Rasa's own command line with one speed fix.

Rasa validates every answer of the action server with `jsonschema.validate(answer,
schema)`. That function checks the schema itself against the JSON-schema meta-schema
on every call before it looks at the answer: about 50 ms of CPU per message on our
machine, half of the Rasa server's time (docs/benchmarks.md, "Server"). Here each
distinct schema is checked once and its validator kept; answers are still validated in
full and a bad answer raises the same `ValidationError` as before.

It also registers, before Rasa starts, the outbox the chat channel delivers staff
replies and hand-backs from (ks1bot.app.wiring.rasa_server_channels).

`ks1bot serve` starts Rasa this way; the arguments are those of `rasa`.
"""
from __future__ import annotations

import json
import sys
import threading
from typing import Any, Callable, Dict, Optional

#: Distinct schemas kept (Rasa uses a handful).
MAX_SCHEMAS = 64


class SchemaValidatorCache:
    """`validate(instance, schema)` with the meta-schema check done once per schema."""

    def __init__(self, original: Callable[..., None], max_schemas: int = MAX_SCHEMAS) -> None:
        self._original = original
        self._max = max_schemas
        self._validators: Dict[str, Any] = {}
        self._lock = threading.Lock()

    def validator(self, schema: Any) -> Optional[Any]:
        """The checked validator for a schema (None when it cannot be keyed)."""
        from jsonschema.validators import validator_for

        try:
            key = json.dumps(schema, sort_keys=True)
        except (TypeError, ValueError):
            return None
        with self._lock:
            found = self._validators.get(key)
        if found is not None:
            return found
        cls = validator_for(schema)
        cls.check_schema(schema)  # raises SchemaError for a bad schema, as jsonschema.validate does
        made = cls(schema)
        with self._lock:
            if len(self._validators) >= self._max:
                self._validators.pop(next(iter(self._validators)))
            self._validators[key] = made
        return made

    def __call__(self, instance: Any, schema: Any, cls: Any = None, *args: Any, **kwargs: Any) -> None:
        if cls is not None or args or kwargs:
            return self._original(instance, schema, cls, *args, **kwargs)
        validator = self.validator(schema)
        if validator is None:
            return self._original(instance, schema)
        from jsonschema.exceptions import best_match

        error = best_match(validator.iter_errors(instance))
        if error is not None:
            raise error
        return None


def install_schema_cache() -> SchemaValidatorCache:
    """Replace `jsonschema.validate` in this process (idempotent)."""
    import jsonschema

    current = jsonschema.validate
    if isinstance(current, SchemaValidatorCache):
        return current
    cached = SchemaValidatorCache(current)
    jsonschema.validate = cached
    return cached


def main() -> None:
    install_schema_cache()
    from rasa.__main__ import main as rasa_main

    from ks1bot.app import wiring
    from ks1bot.core.settings import load_settings

    wiring.rasa_server_channels(load_settings())

    sys.argv[0] = "rasa"
    rasa_main()


if __name__ == "__main__":
    main()
