"""`make run`: start the bot's servers, wait until each is ready, keep them up together.

The services, each its own process (`services()` lists them): the Rasa action server,
the Rasa server (REST, chat widget and phone channels; it delivers chat staff replies),
the staff console (with the widget's web side), and the mail gateway (email channel; it
delivers email staff replies). They share the conversation record (the database).

Every port listens on 127.0.0.1 unless a setting or flag opens it to another interface
(`security.rasa_host`, `--rasa-host`, …; docs/security.md: put nginx in front instead).
The internal secrets are made here when the environment has none: the Rasa API token
and the action server's secret (new at every start), the widget session secret (kept in
the data directory, so sessions survive a restart). Each process gets only the secrets
it needs (`SERVICE_SECRETS`).
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from ks1bot.core import secrets as names
from ks1bot.core.settings import PROJECT_ROOT, Settings
from ks1bot.nlu.model_store import ensure_model


@dataclass(frozen=True)
class Service:
    name: str
    command: List[str]
    #: ("http", url) — ready when the URL answers; ("tcp", "host:port") — when it accepts.
    ready: Tuple[str, str]
    ready_timeout: float
    #: What the user sees once it is up.
    banner: str
    #: POST this JSON to this URL once the service is up, before the next one starts.
    warm_up: Optional[Tuple[str, dict]] = None
    #: rasa | actions | console | mail (the name, unless several processes share a role).
    role: str = ""

    @property
    def kind(self) -> str:
        return self.role or self.name


#: The roles `ks1bot serve --role` runs; without --role, all of them (`make run`).
ROLES = ("actions", "rasa", "console", "mail")


@dataclass(frozen=True)
class Ports:
    rasa: int = 5005
    actions: int = 5055
    console: Optional[int] = None  # default: settings.console.port
    mail_smtp: Optional[str] = None  # HOST:PORT, default MAIL_SMTP_LISTEN
    #: The mail workers' /healthz, /readyz, /metrics (HOST:PORT); default: MAIL_HTTP_LISTEN
    #: with --role mail, off when all roles run (`make run`: readiness is the SMTP port).
    mail_http: Optional[str] = None
    #: Interfaces; None: the settings (security.rasa_host, security.actions_host, console.host).
    rasa_host: Optional[str] = None
    actions_host: Optional[str] = None
    console_host: Optional[str] = None

    def hosts(self, settings: Settings) -> Dict[str, str]:
        return {"rasa": self.rasa_host or settings.security.rasa_host,
                "actions": self.actions_host or settings.security.actions_host,
                "console": self.console_host or settings.console.host}


def reachable(host: str) -> str:
    """The address this machine reaches a server on that listens on `host`."""
    return "127.0.0.1" if host in ("", "0.0.0.0", "::", "[::]") else host


def cors_origins(settings: Settings, console_port: int) -> List[str]:
    """Origins that may call the Rasa server from a browser: the configured ones, else the
    console's own (the widget demo page of `make run`)."""
    if settings.security.cors_origins:
        return list(settings.security.cors_origins)
    return [f"http://127.0.0.1:{console_port}", f"http://localhost:{console_port}"]


#: The email channel's inbound SMTP listener under `make run` (README "Email channel").
MAIL_SMTP_LISTEN = "127.0.0.1:2525"
#: A mail worker's health and metrics listener with --role mail.
MAIL_HTTP_LISTEN = "127.0.0.1:8025"


def shifted(host_port: str, by: int) -> str:
    """HOST:PORT of the by-th process of a role (ports counted up from the first)."""
    host, port = host_port.rsplit(":", 1)
    return f"{host}:{int(port) + by}"


def _bin(name: str) -> str:
    candidate = Path(sys.executable).with_name(name)
    return str(candidate) if candidate.exists() else name


#: Passwords of the tracker database and of Redis: Rasa reads them from its environment
#: (`${…}` in endpoints.yml), `ks1bot serve` takes them from the URLs.
TRACKER_DB_PASSWORD = "KS1BOT_TRACKER_DB_PASSWORD"
REDIS_PASSWORD = "KS1BOT_REDIS_PASSWORD"


def redis_url(settings: Settings, env: Optional[Dict[str, str]] = None) -> Optional[str]:
    """KS1BOT_REDIS_URL, else settings.redis_url: Rasa's lock store (several Rasa processes)."""
    env = os.environ if env is None else env
    return env.get("KS1BOT_REDIS_URL") or settings.redis_url or None


def tracker_store(settings: Settings, env: Optional[Dict[str, str]] = None) -> Tuple[dict, Dict[str, str]]:
    """Rasa's SQLTrackerStore on the database URL (PostgreSQL: the same database as the
    conversation record; Rasa's table is `events`), else a SQLite file in the data
    directory. Returns the endpoint and the environment Rasa needs for it (the password)."""
    from sqlalchemy.engine import make_url

    from ks1bot.conversations.db import database_url

    url = make_url(database_url(settings) if env is None else (env.get("KS1BOT_DATABASE_URL") or
                                                               settings.database_url or "sqlite://"))
    if url.get_backend_name() == "sqlite":
        return {"type": "SQL", "dialect": "sqlite", "db": str(settings.data_dir.resolve() / "rasa_tracker.db")}, {}
    store = {"type": "SQL", "dialect": url.drivername, "url": url.host, "db": url.database}
    if url.port:
        store["port"] = url.port
    if url.username:
        store["username"] = url.username
    if url.query:
        store["query"] = dict(url.query)
    extra = {}
    if url.password:
        store["password"] = "${" + TRACKER_DB_PASSWORD + "}"
        extra[TRACKER_DB_PASSWORD] = str(url.password)
    return store, extra


def lock_store(url: str) -> Tuple[dict, Dict[str, str]]:
    """Rasa's lock store on Redis from redis://[:password@]host[:port][/db] (rediss:// for TLS)."""
    import urllib.parse

    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("redis", "rediss") or not parts.hostname:
        raise ValueError(f"The Redis URL {parts.scheme}://{parts.hostname or ''}… is not redis://host:port/db.")
    # Rasa's RedisLockStore with atomic ticket steps (ks1bot/app/rasa_lock_store.py: RasaHQ/rasa#9213)
    store = {"type": "ks1bot.app.rasa_lock_store.AtomicRedisLockStore", "url": parts.hostname,
             "port": parts.port or 6379,
             "db": int(parts.path.strip("/") or 0), "key_prefix": "ks1bot", "use_ssl": parts.scheme == "rediss"}
    extra = {}
    if parts.password:
        store["password"] = "${" + REDIS_PASSWORD + "}"
        extra[REDIS_PASSWORD] = urllib.parse.unquote(parts.password)
    return store, extra


def endpoints_file(settings: Settings, actions_port: int, actions_host: str = "127.0.0.1",
                   env: Optional[Dict[str, str]] = None, actions_url: Optional[str] = None) -> Path:
    """bot/endpoints.yml with the action server's actual address and its secret (Rasa reads
    `${KS1BOT_ACTIONS_TOKEN}` from its environment: the file holds no secret), unless it
    names them, the tracker store on the database URL (`tracker_store`: PostgreSQL, else
    SQLite in the data directory) and, with a Redis URL, Redis as the lock store; written
    to the data directory. Passwords the stores need are added to `env`."""
    import yaml

    endpoints = yaml.safe_load((PROJECT_ROOT / "bot" / "endpoints.yml").read_text(encoding="utf-8")) or {}
    action = endpoints.setdefault("action_endpoint", {})
    action["url"] = actions_url or f"http://{reachable(actions_host)}:{actions_port}/webhook"
    action["token"] = "${" + names.ACTIONS_TOKEN + "}"
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    extra: Dict[str, str] = {}
    if "tracker_store" not in endpoints:
        endpoints["tracker_store"], more = tracker_store(settings, env)
        extra.update(more)
    redis = redis_url(settings, env)
    if redis and "lock_store" not in endpoints:
        endpoints["lock_store"], more = lock_store(redis)
        extra.update(more)
    if env is not None:
        env.update(extra)
    # one file per action server a Rasa process calls (several Rasa processes, pairs)
    import hashlib

    name = "endpoints.yml" if actions_url is None else \
        f"endpoints-{hashlib.sha256(actions_url.encode()).hexdigest()[:8]}.yml"
    path = settings.data_dir / (f"endpoints-{actions_port}.yml" if actions_url is None and actions_port != 5055
                                else name)
    tmp = path.with_name(f".endpoints.{os.getpid()}.yml")
    tmp.write_text(yaml.safe_dump(endpoints, sort_keys=False), encoding="utf-8")
    os.replace(tmp, path)  # several roles may write it at once
    return path


#: The action server's first call loads the router (embedding model, knowledge base);
#: making it at start-up keeps the first customer from waiting.
WARM_UP_CALL = {
    "next_action": "action_warm_up",
    "sender_id": "ks1bot-warm-up",
    "tracker": {"sender_id": "ks1bot-warm-up", "slots": {}, "latest_message": {}, "events": [], "paused": False,
                "followup_action": None, "active_loop": {}, "latest_action_name": None},
    "domain": {},
    "version": "3.6.2",
}


def with_token(url: str, token: str) -> str:
    import urllib.parse

    return f"{url}?{urllib.parse.urlencode({'token': token})}"


def post_json(url: str, payload: dict, timeout: float) -> bool:
    request = urllib.request.Request(url, data=json.dumps(payload).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status < 300
    except OSError:
        return False


def services(settings: Settings, model: Optional[Path], ports: Ports, env: Optional[Dict[str, str]] = None,
             role: Optional[str] = None, workers: int = 1) -> List[Service]:
    """The processes to start: every role once (`make run`), or `workers` processes of one
    role on consecutive ports (5005, 5006, …; SMTP 2525, 2526, …). With all roles and
    `workers` > 1, Rasa process i calls action server i (no extra hop); with --role rasa
    it calls the one at --actions-port, or KS1BOT_ACTIONS_URL: one URL (a load balancer in
    front of several action servers) or a comma-separated list, process i taking the
    i-th (pairs without a hop; deploy/)."""
    env = env if env is not None else dict(os.environ)
    ks1bot = [_bin("ks1bot")] + (["--settings", str(settings.source)] if settings.source else [])
    console_port = ports.console or settings.console.port
    hosts = ports.hosts(settings)
    rasa_token, actions_token = env.get(names.RASA_TOKEN, ""), env.get(names.ACTIONS_TOKEN, "")
    smtp = ports.mail_smtp or MAIL_SMTP_LISTEN
    mail_http = ports.mail_http or (MAIL_HTTP_LISTEN if role == "mail" else None)
    roles = [role] if role else list(ROLES)
    made: List[Service] = []
    for i in range(workers):
        name = (lambda r: r if workers == 1 else f"{r}-{i + 1}")
        rasa_port, actions_port = ports.rasa + i, ports.actions + i
        rasa = f"http://{reachable(hosts['rasa'])}:{rasa_port}"
        actions = f"http://{reachable(hosts['actions'])}:{actions_port}"
        if "actions" in roles:
            # rasa_sdk's app behind the shared secret, on loopback (ks1bot/app/action_server.py)
            made.append(Service(
                name("actions"), [sys.executable, "-m", "ks1bot.app.action_server", "--host", hosts["actions"],
                                  "--port", str(actions_port)],
                ("http", f"{actions}/health"), 120, f"action server {actions}",
                warm_up=(with_token(f"{actions}/webhook", actions_token), WARM_UP_CALL), role="actions"))
        if "rasa" in roles:
            paired = ports.actions + i if role is None else ports.actions
            # KS1BOT_ACTIONS_URL: one action server URL (a load balancer), or several
            # separated by commas, Rasa process i taking the i-th (round the list)
            listed = [u.strip() for u in (env.get("KS1BOT_ACTIONS_URL") or "").split(",") if u.strip()]
            actions_url = listed[i % len(listed)] if listed and role == "rasa" else None
            # Rasa's own command line, with the action-answer validation made cheap and the API
            # behind its token (rasa_server.py; --auth-token comes from the environment there)
            made.append(Service(name("rasa"), [
                sys.executable, "-m", "ks1bot.app.rasa_server", "run",
                "--model", str(model), "--port", str(rasa_port), "--interface", hosts["rasa"],
                "--endpoints", str(endpoints_file(settings, paired, hosts["actions"], env, actions_url)),
                "--credentials", str(PROJECT_ROOT / "bot" / "credentials.yml"), "--enable-api",
                "--cors", *cors_origins(settings, console_port),
            ], ("http", with_token(f"{rasa}/status", rasa_token)), 300,
                f"REST webhook {rasa}/webhooks/rest/webhook",
                # the NLU loads its embedding model on the first message; do it before the first customer
                warm_up=(with_token(f"{rasa}/model/parse", rasa_token), {"text": "Guten Tag"}), role="rasa"))
        if "console" in roles:
            url = f"http://{reachable(hosts['console'])}:{console_port + i}"
            # the console's own entry point: it imports no channel (the channels deliver its replies)
            made.append(Service(name("console"), [sys.executable, "-m", "ks1bot.app.console_server",
                                                  "--host", hosts["console"], "--port", str(console_port + i)]
                                + (["--settings", str(settings.source)] if settings.source else []),
                                ("http", f"{url}/console/login"), 120, f"staff console {url}/console",
                                role="console"))
        if "mail" in roles:
            listen = shifted(smtp, i)
            http = shifted(mail_http, i) if mail_http else None
            made.append(Service(
                name("mail"), ks1bot + ["mail", "serve", "--smtp-listen", listen]
                + (["--http-listen", http] if http else []),
                ("http", f"http://{reachable(http.rsplit(':', 1)[0])}:{http.rsplit(':', 1)[1]}/readyz") if http
                else ("tcp", listen), 300, f"email: SMTP {listen}" + (f", health http://{http}/readyz" if http else ""),
                role="mail"))
    return made


def is_ready(check: Tuple[str, str]) -> bool:
    kind, target = check
    try:
        if kind == "http":
            with urllib.request.urlopen(target, timeout=2) as response:
                return response.status < 500
        host, port = target.rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=2):
            return True
    except OSError:
        return False


def wait_until_up(service: Service, process: subprocess.Popen) -> bool:
    deadline = time.monotonic() + service.ready_timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        if is_ready(service.ready):
            return True
        time.sleep(0.5)
    return False


#: Secrets of the email channel: only the mail gateway's process gets them.
MAIL_SECRETS = ("KS1BOT_MAIL_IMAP_PASSWORD", "KS1BOT_MAIL_RELAY_USERNAME", "KS1BOT_MAIL_RELAY_PASSWORD")
_PAIRS = (names.WIDGET_TOKEN_SECRET, names.SESSION_SECRET, names.CALL_SECRET, names.REST_API_KEY)
#: Every secret of the bot's own (ks1bot.core.secrets), current and previous.
BOT_SECRETS = (names.RASA_TOKEN, names.ACTIONS_TOKEN) + _PAIRS + tuple(n + names.PREVIOUS for n in _PAIRS)


def _with_previous(*secrets: str) -> tuple:
    return tuple(s for name in secrets for s in (name, name + names.PREVIOUS))


#: Which process gets which of the bot's secrets.
SERVICE_SECRETS: Dict[str, tuple] = {
    # the public channels check tokens and signatures; Rasa calls the action server
    "rasa": (names.RASA_TOKEN, names.ACTIONS_TOKEN)
    + _with_previous(names.WIDGET_TOKEN_SECRET, names.SESSION_SECRET, names.CALL_SECRET, names.REST_API_KEY),
    # its own secret, and the Rasa API token for the parses of multi-request messages
    "actions": (names.ACTIONS_TOKEN, names.RASA_TOKEN),
    # /widget/missed: reads trackers from Rasa's API, checks session credentials, REST keys
    "console": (names.RASA_TOKEN,) + _with_previous(names.SESSION_SECRET, names.REST_API_KEY),
    "mail": (),
}


def environment_for(service: str, env: Dict[str, str]) -> Dict[str, str]:
    """The environment of one service: the mail credentials stay with the mail gateway, and
    each process gets only the bot secrets it needs."""
    allowed = SERVICE_SECRETS.get(service, ())
    return {k: v for k, v in env.items()
            if (service == "mail" or k not in MAIL_SECRETS) and (k not in BOT_SECRETS or k in allowed)}


def session_secret(settings: Settings) -> str:
    """The widget session secret when the environment has none: made once and kept in
    the data directory (readable by this user only), so sessions survive a restart."""
    import secrets

    path = settings.data_dir / "session.key"
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
    return path.read_text().strip()


def internal_secrets(settings: Settings, env: Dict[str, str]) -> None:
    """Fill in the secrets only the bot's own processes share, when the environment has none."""
    import secrets

    env.setdefault(names.RASA_TOKEN, secrets.token_urlsafe(32))
    env.setdefault(names.ACTIONS_TOKEN, secrets.token_urlsafe(32))
    if not env.get(names.SESSION_SECRET):
        env[names.SESSION_SECRET] = session_secret(settings)


def serve(settings: Settings, ports: Ports = Ports(), role: Optional[str] = None, workers: int = 1) -> int:
    """Start the processes (`services`), wait until each is up, keep them up together.
    With `role`, the shared secrets must come from the environment: the processes of the
    other roles (other machines, other process managers) need the same ones."""
    if role is not None and role not in ROLES:
        print(f"ks1bot: there is no role {role!r}; use one of {', '.join(ROLES)}.", file=sys.stderr)
        return 2
    if workers < 1:
        print("ks1bot: --workers must be at least 1.", file=sys.stderr)
        return 2
    if role is not None:
        missing = [n for n in (names.RASA_TOKEN, names.ACTIONS_TOKEN) if not os.environ.get(n)]
        if missing:
            print(f"ks1bot: --role {role} runs beside processes of other roles, which need the same secrets; "
                  f"set {' and '.join(missing)} in the environment (docs/deploy.md, Secrets).", file=sys.stderr)
            return 2
    model = ensure_model(settings.models_dir) if role in (None, "rasa") else None
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TF_CPP_MIN_LOG_LEVEL="2")
    if settings.source:
        env["KS1BOT_SETTINGS"] = str(Path(settings.source).resolve())
    env.setdefault("KS1BOT_RASA_URL", f"http://{reachable(ports.hosts(settings)['rasa'])}:{ports.rasa}")
    # One thread per embedding: a second thread saves ~5 % of a message's time but costs a
    # whole core, which concurrent messages need (docs/benchmarks.md, "Server").
    env.setdefault("OMP_NUM_THREADS", "1")
    env.setdefault("RASA_TELEMETRY_ENABLED", "false")  # nothing about the bot leaves the machine
    try:
        names.Secrets.from_environment(env)
    except names.SecretsError as exc:
        print(f"ks1bot: {exc}", file=sys.stderr)
        return 2
    internal_secrets(settings, env)
    processes: Dict[str, subprocess.Popen] = {}
    stopping = False

    def stop(*_args) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        banners = []
        for service in services(settings, model, ports, env, role=role, workers=workers):
            process = subprocess.Popen(service.command, cwd=PROJECT_ROOT, env=environment_for(service.kind, env))
            processes[service.name] = process
            if not wait_until_up(service, process):
                print(f"ks1bot: the {service.name} server did not start; see its log above.", file=sys.stderr)
                return 1
            if service.warm_up and not post_json(*service.warm_up, timeout=service.ready_timeout):
                print(f"ks1bot: warming up the {service.name} server failed; see its log above.", file=sys.stderr)
                return 1
            banners.append(service.banner)
        print("KS1 bot is up: " + "; ".join(banners) + ". Ctrl+C stops.", flush=True)
        while not stopping:
            for name, process in processes.items():
                if process.poll() is not None:
                    print(f"ks1bot: the {name} server stopped (exit code {process.returncode}).", file=sys.stderr)
                    return 1
            time.sleep(0.5)
        return 0
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.terminate()
        for process in processes.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
