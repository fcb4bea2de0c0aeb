"""`make run`: start the Rasa server (REST channel) and the action server, keep them up."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Dict, List

from ks1bot.model_store import ensure_model
from ks1bot.settings import PROJECT_ROOT, Settings


def _bin(name: str) -> str:
    candidate = Path(sys.executable).with_name(name)
    return str(candidate) if candidate.exists() else name


def endpoints_file(settings: Settings, actions_port: int) -> Path:
    """bot/endpoints.yml with the action server's actual port, written to the data directory."""
    import yaml

    endpoints = yaml.safe_load((PROJECT_ROOT / "bot" / "endpoints.yml").read_text(encoding="utf-8")) or {}
    endpoints.setdefault("action_endpoint", {})["url"] = f"http://127.0.0.1:{actions_port}/webhook"
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    path = settings.data_dir / "endpoints.yml"
    path.write_text(yaml.safe_dump(endpoints, sort_keys=False), encoding="utf-8")
    return path


def service_commands(settings: Settings, model: Path, rasa_port: int, actions_port: int) -> Dict[str, List[str]]:
    return {
        "actions": [_bin("rasa"), "run", "actions", "--actions", "actions", "--port", str(actions_port)],
        "rasa": [
            _bin("rasa"), "run", "--model", str(model), "--port", str(rasa_port),
            "--interface", "127.0.0.1",
            "--endpoints", str(endpoints_file(settings, actions_port)),
            "--credentials", str(PROJECT_ROOT / "bot" / "credentials.yml"),
            "--enable-api", "--cors", "*",
        ],
    }


def wait_until_up(url: str, timeout: float, process: subprocess.Popen) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status < 500:
                    return True
        except OSError:
            pass
        time.sleep(0.5)
    return False


def serve(settings: Settings, rasa_port: int = 5005, actions_port: int = 5055) -> int:
    model = ensure_model(settings.models_dir)
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TF_CPP_MIN_LOG_LEVEL="2")
    if settings.source:
        env["KS1BOT_SETTINGS"] = str(settings.source.resolve())
    commands = service_commands(settings, model, rasa_port, actions_port)
    processes: Dict[str, subprocess.Popen] = {}
    stopping = False

    def stop(*_args) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        processes["actions"] = subprocess.Popen(commands["actions"], cwd=PROJECT_ROOT, env=env)
        if not wait_until_up(f"http://127.0.0.1:{actions_port}/health", 120, processes["actions"]):
            print("ks1bot: the action server did not start; see its log above.", file=sys.stderr)
            return 1
        processes["rasa"] = subprocess.Popen(commands["rasa"], cwd=PROJECT_ROOT, env=env)
        if not wait_until_up(f"http://127.0.0.1:{rasa_port}/", 300, processes["rasa"]):
            print("ks1bot: the Rasa server did not start; see its log above.", file=sys.stderr)
            return 1
        print(
            f"KS1 bot is up: REST webhook http://127.0.0.1:{rasa_port}/webhooks/rest/webhook, "
            f"actions http://127.0.0.1:{actions_port}. Ctrl+C stops.",
            flush=True,
        )
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
