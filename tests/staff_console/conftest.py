"""Console fixtures: a real uvicorn server on loopback, a real database, real HTTP."""
from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests

from tests.support.handoffs import new_handoff  # noqa: F401  (the console tests import it from here)
from tests.support.ports import free_port

PASSWORD = "correct-horse-battery"


class LiveServer:
    def __init__(self, app) -> None:
        import uvicorn

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                                    access_log=False, lifespan="off", ws="none",
                                                    proxy_headers=False))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> "LiveServer":
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("console server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def make_console(settings, url, data_dir=None):
    """The console's parts on `url`; its files go to `data_dir` (default: next to a SQLite
    database, else the settings' data directory)."""
    from ks1bot.app import wiring

    if data_dir is None and url.startswith("sqlite:///"):
        data_dir = Path(url[len("sqlite:///"):]).parent
    if data_dir is not None:
        settings = settings.with_overrides(data_dir=Path(data_dir))
    store = wiring.handoff_store(settings, url=url)
    auth = wiring.staff_accounts(settings, url=url)
    app = wiring.console_app(settings, url=url, poll_seconds=0.2)
    return store, auth, app


@pytest.fixture
def console(tmp_path, settings):
    """A console on a fresh SQLite database with two staff accounts."""
    url = f"sqlite:///{tmp_path / 'console.db'}"
    store, auth, app = make_console(settings, url)
    auth.add_staff("anna", PASSWORD)
    auth.add_staff("bert", PASSWORD)
    with LiveServer(app) as server:
        server.store, server.auth = store, auth
        yield server


def login(base_url, name="anna", password=PASSWORD) -> requests.Session:
    session = requests.Session()
    page = session.get(f"{base_url}/console/login")
    token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    response = session.post(f"{base_url}/console/login", data={"name": name, "password": password,
                                                                  "csrf_token": token})
    assert response.status_code == 200 and ("Übergaben" in response.text or "Handoffs" in response.text), response.text[:500]
    return session


def form_tokens(html: str):
    csrf = html.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    form = html.split('name="form_token" value="', 1)[1].split('"', 1)[0].rsplit("-", 1)[0]
    return csrf, form


# -- PostgreSQL, started by the tests on loopback ---------------------------------------------
def _pg_bin() -> Path:
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (candidate / "initdb").exists():
            return candidate
    pytest.fail("PostgreSQL is not installed; run `make test` (it installs the Debian package postgresql).")


class Postgres:
    def __init__(self, root: Path) -> None:
        self.bin = _pg_bin()
        self.root = root
        self.data = root / "data"
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/ks1bot"

    def _as_postgres(self, *args, check=True):
        command = list(args)
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--"] + command
        return subprocess.run(command, check=check, capture_output=True, text=True)

    def init(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self._as_postgres(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust")

    def start(self) -> None:
        self._as_postgres(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "log"), "-w",
                          "-o", f"-p {self.port} -h 127.0.0.1 -k {self.root}", "start")

    def stop(self) -> None:
        self._as_postgres(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop", check=False)

    def createdb(self) -> None:
        self._as_postgres(str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                          "ks1bot")


@pytest.fixture
def postgres():
    # Not under pytest's tmp dir: the postgres user must be able to reach it.
    root = Path("/tmp") / f"ks1pg-{os.getpid()}-{time.monotonic_ns()}"
    server = Postgres(root)
    server.init()
    server.start()
    server.createdb()
    yield server
    server.stop()
    shutil.rmtree(root, ignore_errors=True)
