"""Fixtures of the scale-out tests (marked `scale`): one PostgreSQL cluster and one Redis
for the session, from the Debian packages, on loopback; each test takes a fresh database.
Gateway workers are real `ks1bot mail serve` processes (tests/support/mail_launcher.py
with the stub router: the model's answer does not matter here, the coordination does)."""
from __future__ import annotations

import os
import signal
import smtplib
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional

import pytest
import yaml

from tests.support.databases import PostgresServer, RedisServer
from tests.support.mail_servers import SmtpSink
from tests.support.ports import free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def pg():
    server = PostgresServer().start()
    yield server
    server.destroy()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture
def sink():
    server = SmtpSink().start()
    yield server
    server.stop()


def wait_until(check, timeout: float, every: float = 0.2, what: str = "the condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class Workers:
    """Gateway workers sharing one queue (PostgreSQL) and one data directory."""

    def __init__(self, root: Path, database_url: str, settings, relay_port: int, imap_url: Optional[str] = None,
                 lease_seconds: float = 3.0) -> None:
        self.root = root
        self.data = root / "data"
        self.database_url = database_url
        self.imap_url = imap_url
        self.settings_file = root / "settings.yml"
        self.settings_file.write_text(yaml.safe_dump({
            "our_addresses": list(settings.our_addresses), "message_id_domain": settings.message_id_domain,
            "data_dir": str(self.data),
            "mail": {"warm_up": False, "retry_seconds": 0.2, "poll_seconds": 1, "lease_seconds": lease_seconds,
                     "relay": f"127.0.0.1:{relay_port}", "relay_starttls": False, "sender_limit": 1000},
        }))
        self.processes: Dict[int, subprocess.Popen] = {}
        self.ports: Dict[int, int] = {}

    def start(self, number: int) -> subprocess.Popen:
        port = free_port()
        command = [sys.executable, "-m", "tests.support.mail_launcher", "--stub-router",
                   "--settings", str(self.settings_file), "mail", "serve", "--smtp-listen", f"127.0.0.1:{port}"]
        if self.imap_url:
            command += ["--imap", self.imap_url]
        log = open(self.root / f"worker-{number}.log", "w")
        process = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                   env={**os.environ, "KS1BOT_DATABASE_URL": self.database_url})
        self.processes[number], self.ports[number] = process, port
        wait_for_port(port, 60)
        return process

    def kill(self, number: int) -> None:
        self.processes[number].send_signal(signal.SIGKILL)
        self.processes[number].wait(10)

    def alive(self) -> List[int]:
        return [n for n, p in self.processes.items() if p.poll() is None]

    def submit(self, raw: bytes, sender: str, first: int) -> int:
        """Deliver over SMTP to worker `first`, or the next live one (as a sending MTA tries
        the next MX); returns the worker that took it."""
        numbers = sorted(self.ports)
        start = numbers.index(first)
        for number in numbers[start:] + numbers[:start]:
            try:
                with smtplib.SMTP("127.0.0.1", self.ports[number], timeout=30) as client:
                    client.sendmail(sender, ["support@ks1-support.example"], raw)
                return number
            except (OSError, smtplib.SMTPException):
                continue
        raise AssertionError("no gateway worker took the mail")

    def log(self, number: int) -> str:
        return (self.root / f"worker-{number}.log").read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
