"""`python -m ks1bot.app.action_server [--host 127.0.0.1] [--port 5055]`: the Rasa action
server (rasa_sdk's app with our `actions` package), as `ks1bot serve` starts it.

rasa-sdk 3.6 has no authentication and binds 0.0.0.0 (SANIC_HOST); anyone who reaches
it can post a forged tracker and create handoffs and callback tasks. Here it binds
127.0.0.1 unless told otherwise, and refuses every call without the shared secret
KS1BOT_ACTIONS_TOKEN — Rasa sends it as `?token=` (`action_endpoint.token` in the
endpoints file `ks1bot serve` writes), compared in constant time. Only `GET /health`,
`/healthz`, `/readyz` (ok/failed) and `/metrics` (its own token, ks1bot/app/health.py)
answer without it. No CORS (browsers never call it), no access log (the token is in
the query).
"""
from __future__ import annotations

import argparse
import hmac
import os
import sys
from typing import Any, List, Optional

#: rasa-sdk's default; `ks1bot serve` passes its own.
DEFAULT_PORT = 5055
#: A tracker with a long conversation; larger bodies are refused.
MAX_REQUEST_BYTES = 16 * 1024 * 1024


def create_app(token: str, actions: str = "actions") -> Any:
    """rasa_sdk's app that refuses every call but `GET /health` without `token`."""
    if not token:
        raise ValueError("the action server needs a shared secret")
    from rasa_sdk.endpoint import create_app as sdk_app
    from sanic import response

    app = sdk_app(actions, cors_origins=None)
    app.config.REQUEST_MAX_SIZE = MAX_REQUEST_BYTES
    app.config.ACCESS_LOG = False
    expected = token.encode("utf-8")

    from ks1bot.app.health import add_sanic_routes, standard_checks
    from ks1bot.core.settings import load_settings

    checks = standard_checks(load_settings())
    add_sanic_routes(app, "actions", lambda _app: checks)

    @app.middleware("request")
    async def require_secret(request):  # noqa: ANN001 — sanic's request
        if request.path in ("/health", "/healthz", "/readyz", "/metrics") and request.method == "GET":
            return None  # /metrics checks its own token (ks1bot/app/health.py)
        given = request.args.get("token") or ""
        header = request.headers.get("authorization") or ""
        if header.lower().startswith("bearer "):
            given = header[7:].strip()
        if not hmac.compare_digest(given.encode("utf-8"), expected):
            return response.json({"error": "The action server needs its shared secret (KS1BOT_ACTIONS_TOKEN)."},
                                 status=401)
        return None

    return app


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="action_server", description="the bot's Rasa action server")
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--actions", default="actions", help="the actions package")
    args = parser.parse_args(argv)

    from ks1bot.core.secrets import ACTIONS_TOKEN, Secrets, SecretsError

    try:
        token = Secrets.from_environment(os.environ).actions_token
    except SecretsError as exc:
        print(f"ks1bot action server: {exc}", file=sys.stderr)
        return 2
    if not token:
        print(f"ks1bot action server: set {ACTIONS_TOKEN} (ks1bot serve generates one); it never runs "
              "without its shared secret.", file=sys.stderr)
        return 2
    from rasa_sdk import utils

    utils.configure_colored_logging("INFO")
    utils.update_sanic_log_level()
    app = create_app(token, args.actions)
    print(f"Action server on http://{args.host}:{args.port}", file=sys.stderr, flush=True)
    app.run(args.host, args.port, workers=1, access_log=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
