"""`python -m ks1bot.app.rasa_server run …`: Rasa's own command line with one speed fix.

Rasa validates every answer of the action server with `jsonschema.validate(answer,
schema)`. That function checks the schema itself against the JSON-schema meta-schema
on every call before it looks at the answer: about 50 ms of CPU per message on our
machine, half of the Rasa server's time (docs/benchmarks.md, "Server"). Here each
distinct schema is checked once and its validator kept; answers are still validated in
full and a bad answer raises the same `ValidationError` as before.

It also registers, before Rasa starts, the outbox the chat channel delivers staff
replies and hand-backs from and the public channels' secrets and limits
(ks1bot.app.wiring.rasa_server_channels), and closes Rasa's HTTP API to everyone without
its token (docs/security.md): `--auth-token` comes from KS1BOT_RASA_TOKEN (added here, so
it never shows in the process list), and every path but the public ones (the REST and
phone webhooks, socket.io) needs it — compared in constant time before Rasa sees the
request, health check and `/version` included. Bodies above `MAX_REQUEST_BYTES` get 413.

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


#: What anyone may reach without the API token: the public channels (docs/security.md).
PUBLIC_PATHS = ("/webhooks/rest/webhook", "/webhooks/call")
PUBLIC_PREFIXES = ("/socket.io/",)
#: Largest request body the server reads at all (a channel's own limit is lower: 64 KB).
MAX_REQUEST_BYTES = 256 * 1024


#: Health and readiness (ok/failed only) and metrics (their own check: ks1bot/app/health.py).
HEALTH_PATHS = ("/healthz", "/readyz", "/metrics")


def is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES) or path + "/" in PUBLIC_PREFIXES


def rasa_checks(app: Any) -> Dict[str, Callable[[], object]]:
    """Ready: the model is loaded, the tracker store's database and the lock store's Redis answer."""
    agent = getattr(app.ctx, "agent", None)
    checks: Dict[str, Callable[[], object]] = {"model": lambda: bool(agent is not None and agent.is_ready())}
    store = getattr(agent, "tracker_store", None)
    store = getattr(store, "_tracker_store", store)
    engine = getattr(store, "engine", None)
    if engine is not None:
        from ks1bot.conversations.db import answers

        checks["database"] = lambda: answers(engine)
    red = getattr(getattr(agent, "lock_store", None), "red", None)
    if red is not None:
        checks["redis"] = lambda: bool(red.ping())
    return checks


def guard(app: Any, token: str) -> Any:
    """Rasa's app with the API behind `token` (`?token=`), a body limit and no access log."""
    import hmac

    from sanic import response
    from sanic.exceptions import PayloadTooLarge

    expected = token.encode("utf-8")
    app.config.REQUEST_MAX_SIZE = MAX_REQUEST_BYTES
    app.config.ACCESS_LOG = False

    from ks1bot.app.health import add_sanic_routes

    add_sanic_routes(app, "rasa", rasa_checks)

    @app.middleware("request")
    async def require_token(request):  # noqa: ANN001 — sanic's request
        if is_public(request.path) or (request.path in HEALTH_PATHS and request.method == "GET"):
            return None
        given = (request.args.get("token") or "").encode("utf-8")
        if not hmac.compare_digest(given, expected):
            return response.json({"error": "This is the bot's internal API; it needs its token."}, status=401)
        return None

    @app.exception(PayloadTooLarge)
    async def too_large(request, exception):  # noqa: ANN001
        return response.json({"error": f"The request is larger than {MAX_REQUEST_BYTES // 1024} KB; "
                                       "shorten the message."}, status=413)

    return app


def install_api_guard(token: str) -> None:
    """Every Rasa app built in this process gets `guard` (Rasa builds it in rasa.core.run)."""
    import rasa.server

    original = rasa.server.create_app
    if getattr(original, "ks1bot_guarded", False):
        return

    def create_app(*args: Any, **kwargs: Any) -> Any:
        return guard(original(*args, **kwargs), token)

    create_app.ks1bot_guarded = True  # type: ignore[attr-defined]
    rasa.server.create_app = create_app


def main() -> None:
    import os

    install_schema_cache()
    from ks1bot.core.secrets import RASA_TOKEN, Secrets, SecretsError

    try:
        secrets = Secrets.from_environment(os.environ)
    except SecretsError as exc:
        print(f"ks1bot rasa_server: {exc}", file=sys.stderr)
        raise SystemExit(2)
    if not secrets.rasa_token:
        print(f"ks1bot rasa_server: set {RASA_TOKEN} (ks1bot serve generates one): Rasa's HTTP API "
              "is never served without a token.", file=sys.stderr)
        raise SystemExit(2)
    from rasa.__main__ import main as rasa_main

    from ks1bot.app import wiring
    from ks1bot.core.settings import load_settings

    wiring.rasa_server_channels(load_settings(), secrets)
    install_api_guard(secrets.rasa_token)

    sys.argv[0] = "rasa"
    if "--auth-token" not in sys.argv:
        sys.argv += ["--auth-token", secrets.rasa_token]  # in-process only: not in /proc/<pid>/cmdline
    rasa_main()


if __name__ == "__main__":
    main()
