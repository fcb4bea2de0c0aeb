"""`make run`: start the bot's servers, wait until each is ready, keep them up together.

The services, each its own process (`services()` lists them): the Rasa action server,
the Rasa server (REST, chat widget and phone channels; it delivers chat staff replies),
the staff console (with the widget's web side), and the mail gateway (email channel; it
delivers email staff replies). They share the conversation record (the database).
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


@dataclass(frozen=True)
class Ports:
    rasa: int = 5005
    actions: int = 5055
    console: Optional[int] = None  # default: settings.console.port
    mail_smtp: Optional[str] = None  # HOST:PORT, default MAIL_SMTP_LISTEN


#: The email channel's inbound SMTP listener under `make run` (README "Email channel").
MAIL_SMTP_LISTEN = "127.0.0.1:2525"


def _bin(name: str) -> str:
    candidate = Path(sys.executable).with_name(name)
    return str(candidate) if candidate.exists() else name


def endpoints_file(settings: Settings, actions_port: int) -> Path:
    """bot/endpoints.yml with the action server's actual port and, unless it names one, a
    SQLite tracker store in the data directory (conversations survive a restart), written
    to the data directory."""
    import yaml

    endpoints = yaml.safe_load((PROJECT_ROOT / "bot" / "endpoints.yml").read_text(encoding="utf-8")) or {}
    endpoints.setdefault("action_endpoint", {})["url"] = f"http://127.0.0.1:{actions_port}/webhook"
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    endpoints.setdefault("tracker_store", {"type": "SQL", "dialect": "sqlite",
                                           "db": str(settings.data_dir.resolve() / "rasa_tracker.db")})
    path = settings.data_dir / "endpoints.yml"
    path.write_text(yaml.safe_dump(endpoints, sort_keys=False), encoding="utf-8")
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


def post_json(url: str, payload: dict, timeout: float) -> bool:
    request = urllib.request.Request(url, data=json.dumps(payload).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status < 300
    except OSError:
        return False


def services(settings: Settings, model: Path, ports: Ports) -> List[Service]:
    ks1bot = [_bin("ks1bot")] + (["--settings", str(settings.source)] if settings.source else [])
    console_port = ports.console or settings.console.port
    return [
        Service("actions", [_bin("rasa"), "run", "actions", "--actions", "actions", "--port", str(ports.actions)],
                ("http", f"http://127.0.0.1:{ports.actions}/health"), 120,
                f"action server http://127.0.0.1:{ports.actions}",
                warm_up=(f"http://127.0.0.1:{ports.actions}/webhook", WARM_UP_CALL)),
        # Rasa's own command line, with the action-answer validation made cheap (rasa_server.py)
        Service("rasa", [
            sys.executable, "-m", "ks1bot.app.rasa_server", "run",
            "--model", str(model), "--port", str(ports.rasa), "--interface", "127.0.0.1",
            "--endpoints", str(endpoints_file(settings, ports.actions)),
            "--credentials", str(PROJECT_ROOT / "bot" / "credentials.yml"), "--enable-api", "--cors", "*",
        ], ("http", f"http://127.0.0.1:{ports.rasa}/"), 300,
            f"REST webhook http://127.0.0.1:{ports.rasa}/webhooks/rest/webhook",
            # the NLU loads its embedding model on the first message; do it before the first customer
            warm_up=(f"http://127.0.0.1:{ports.rasa}/model/parse", {"text": "Guten Tag"})),
        # the console's own entry point: it imports no channel (the channels deliver its replies)
        Service("console", [sys.executable, "-m", "ks1bot.app.console_server", "--port", str(console_port)]
                + (["--settings", str(settings.source)] if settings.source else []),
                ("http", f"http://127.0.0.1:{console_port}/console/login"), 120,
                f"staff console http://127.0.0.1:{console_port}/console"),
        Service("mail", ks1bot + ["mail", "serve", "--smtp-listen", ports.mail_smtp or MAIL_SMTP_LISTEN],
                ("tcp", ports.mail_smtp or MAIL_SMTP_LISTEN), 300, f"email: SMTP {ports.mail_smtp or MAIL_SMTP_LISTEN}"),
    ]


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


def environment_for(service: str, env: Dict[str, str]) -> Dict[str, str]:
    """The environment of one service: the mail credentials stay with the mail gateway."""
    return env if service == "mail" else {k: v for k, v in env.items() if k not in MAIL_SECRETS}


def serve(settings: Settings, ports: Ports = Ports()) -> int:
    model = ensure_model(settings.models_dir)
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TF_CPP_MIN_LOG_LEVEL="2")
    if settings.source:
        env["KS1BOT_SETTINGS"] = str(Path(settings.source).resolve())
    env["KS1BOT_RASA_URL"] = f"http://127.0.0.1:{ports.rasa}"
    # One thread per embedding: a second thread saves ~5 % of a message's time but costs a
    # whole core, which concurrent messages need (docs/benchmarks.md, "Server").
    env.setdefault("OMP_NUM_THREADS", "1")
    processes: Dict[str, subprocess.Popen] = {}
    stopping = False

    def stop(*_args) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        banners = []
        for service in services(settings, model, ports):
            process = subprocess.Popen(service.command, cwd=PROJECT_ROOT, env=environment_for(service.name, env))
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
