"""Health, readiness and metrics of every role (`ks1bot serve --role …`):

    GET /healthz   200 while the process runs (liveness: restart it when this fails)
    GET /readyz    200 when it can do its work — model loaded, database and Redis
                   reachable — else 503 with the failed checks (send it no traffic)
    GET /metrics   Prometheus text format (ks1bot/core/metrics.py)

/healthz and /readyz say nothing but ok/failed per check; /metrics needs the bearer
token KS1BOT_METRICS_TOKEN (or `?token=`) when it is set, else it answers loopback
clients only. All of them are on the roles' own (loopback) ports: the public nginx
front forwards none of them (docs/security.md).

The Rasa server gets them in its API guard (rasa_server.py), the action server in its
app (action_server.py), the console through its extra routes (wiring.console_app), the
mail gateway on a small HTTP listener of its own (`HealthServer`, `--http-listen`).
"""
from __future__ import annotations

import hmac
import ipaddress
import json
import os
import threading
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Dict, Mapping, Optional, Tuple

from ks1bot.core import metrics

METRICS_TOKEN = "KS1BOT_METRICS_TOKEN"
#: A readiness check: name → callable raising (or returning False) when not ready.
Checks = Mapping[str, Callable[[], object]]


def run_checks(checks: Checks) -> Tuple[bool, Dict[str, str]]:
    results: Dict[str, str] = {}
    for name, check in checks.items():
        try:
            ok = check() is not False
        except Exception as exc:  # the check's failure is the answer, not an error
            ok = False
            results[name] = f"failed: {type(exc).__name__}"
            continue
        results[name] = "ok" if ok else "failed"
    return all(v == "ok" for v in results.values()), results


def metrics_allowed(peer: str, headers: Mapping[str, str], query_token: Optional[str],
                    env: Optional[Mapping[str, str]] = None) -> bool:
    """The metrics token when one is set; else a loopback peer not forwarded by a proxy."""
    env = os.environ if env is None else env
    expected = env.get(METRICS_TOKEN) or ""
    if expected:
        given = query_token or ""
        auth = headers.get("authorization") or headers.get("Authorization") or ""
        if auth.lower().startswith("bearer "):
            given = auth[7:].strip()
        return hmac.compare_digest(given.encode(), expected.encode())
    if headers.get("x-forwarded-for") or headers.get("X-Forwarded-For"):
        return False
    try:
        return ipaddress.ip_address(peer).is_loopback
    except ValueError:
        return False


@lru_cache(maxsize=8)
def _engine(url: str):
    from sqlalchemy import create_engine

    return create_engine(url, future=True, pool_pre_ping=True, pool_size=1, max_overflow=1,
                         connect_args={"connect_timeout": 3} if url.startswith("postgres") else {})


def database_check(url: str) -> Callable[[], bool]:
    from ks1bot.conversations.db import answers

    return lambda: answers(_engine(url))


def redis_check(url: str) -> Callable[[], bool]:
    def check() -> bool:
        import redis

        return bool(redis.Redis.from_url(url, socket_timeout=3, socket_connect_timeout=3).ping())

    return check


def handoffs_open(url: str) -> Callable[[], Mapping[metrics.Labels, float]]:
    """The gauge ks1bot_handoffs_open{channel}: handoffs open or claimed."""
    def read() -> Mapping[metrics.Labels, float]:
        from sqlalchemy import text

        with _engine(url).connect() as connection:
            rows = connection.execute(text("SELECT channel, COUNT(*) FROM handoffs WHERE status IN ('open', 'claimed') "
                                           "GROUP BY channel")).all()
        return metrics.by("channel", rows)

    return read


def register_handoffs_gauge(url: str) -> None:
    metrics.REGISTRY.gauge("ks1bot_handoffs_open", "Handoffs open or claimed.", handoffs_open(url))


def standard_checks(settings, *, redis: bool = False) -> Dict[str, Callable[[], object]]:
    """The database of the conversation record, and Redis when `redis` and a URL is set."""
    from ks1bot.app.serve import redis_url
    from ks1bot.conversations.db import database_url

    checks: Dict[str, Callable[[], object]] = {"database": database_check(database_url(settings))}
    url = redis_url(settings)
    if redis and url:
        checks["redis"] = redis_check(url)
    return checks


# -- Sanic (Rasa server, action server) -------------------------------------------------
def add_sanic_routes(app, role: str, checks: Callable[[object], Checks]) -> None:
    """/healthz, /readyz, /metrics on a Sanic app; `checks(app)` gives the checks."""
    from sanic import response

    metrics.REGISTRY.role = role

    @app.get("/healthz", name="ks1bot_healthz")
    async def healthz(request):  # noqa: ANN001
        return response.json({"status": "alive", "role": role})

    @app.get("/readyz", name="ks1bot_readyz")
    async def readyz(request):  # noqa: ANN001
        ok, results = run_checks(checks(request.app))
        return response.json({"ready": ok, "role": role, "checks": results}, status=200 if ok else 503)

    @app.get("/metrics", name="ks1bot_metrics")
    async def metrics_route(request):  # noqa: ANN001
        if not metrics_allowed(request.ip, request.headers, request.args.get("token")):
            return response.json({"error": f"metrics need {METRICS_TOKEN} (or a loopback client)"}, status=401)
        return response.text(metrics.REGISTRY.render(), content_type=metrics.CONTENT_TYPE)


# -- Starlette (console) -----------------------------------------------------------------
def starlette_routes(role: str, checks: Checks):
    from starlette.responses import JSONResponse, PlainTextResponse
    from starlette.routing import Route

    metrics.REGISTRY.role = role

    async def healthz(request):  # noqa: ANN001
        return JSONResponse({"status": "alive", "role": role})

    async def readyz(request):  # noqa: ANN001
        ok, results = run_checks(checks)
        return JSONResponse({"ready": ok, "role": role, "checks": results}, status_code=200 if ok else 503)

    async def metrics_route(request):  # noqa: ANN001
        peer = request.client.host if request.client else ""
        if not metrics_allowed(peer, request.headers, request.query_params.get("token")):
            return JSONResponse({"error": f"metrics need {METRICS_TOKEN} (or a loopback client)"}, status_code=401)
        return PlainTextResponse(metrics.REGISTRY.render(), media_type=metrics.CONTENT_TYPE)

    return [Route("/healthz", healthz), Route("/readyz", readyz), Route("/metrics", metrics_route)]


# -- a listener of its own (mail gateway) ----------------------------------------------
class HealthServer:
    """The three endpoints on HOST:PORT in a thread; `start()/stop()`."""

    def __init__(self, host: str, port: int, role: str, checks: Checks) -> None:
        self.host, self.port, self.role, self.checks = host, port, role, checks
        self._server: Optional[ThreadingHTTPServer] = None
        metrics.REGISTRY.role = role

    def start(self) -> "HealthServer":
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args) -> None:  # no access log
                pass

            def _send(self, status: int, body: str, content_type: str = "application/json") -> None:
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802
                import urllib.parse

                path, _, query = self.path.partition("?")
                if path == "/healthz":
                    self._send(200, json.dumps({"status": "alive", "role": owner.role}))
                elif path == "/readyz":
                    ok, results = run_checks(owner.checks)
                    self._send(200 if ok else 503, json.dumps({"ready": ok, "role": owner.role, "checks": results}))
                elif path == "/metrics":
                    token = (urllib.parse.parse_qs(query).get("token") or [None])[0]
                    if not metrics_allowed(self.client_address[0], self.headers, token):
                        self._send(401, json.dumps({"error": f"metrics need {METRICS_TOKEN}"}))
                    else:
                        self._send(200, metrics.REGISTRY.render(), metrics.CONTENT_TYPE)
                else:
                    self._send(404, json.dumps({"error": "not found"}))

        self._server = ThreadingHTTPServer((self.host, self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="health", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
