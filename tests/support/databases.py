"""PostgreSQL and Redis from the Debian packages, started by the tests on loopback with
their own data directory and port (never the system's servers)."""
from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Optional

import pytest

from tests.support.ports import free_port, wait_for_port


def _pg_bin() -> Path:
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (candidate / "initdb").exists():
            return candidate
    pytest.fail("PostgreSQL is not installed; run `make test` (it installs the Debian package postgresql).")


class PostgresServer:
    """A cluster of its own (initdb in a directory under /tmp the postgres user can reach
    when the tests run as root), listening on 127.0.0.1 only; `restart()` for the tests
    that lose the database mid-run."""

    def __init__(self, root: Optional[Path] = None) -> None:
        self.bin = _pg_bin()
        self.root = root or Path("/tmp") / f"ks1scale-pg-{os.getpid()}-{time.monotonic_ns()}"
        self.data = self.root / "data"
        self.port = free_port()
        self._databases = 0

    def _run(self, *args, check: bool = True) -> subprocess.CompletedProcess:
        command = list(args)
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--"] + command
        return subprocess.run(command, check=check, capture_output=True, text=True)

    def start(self) -> "PostgresServer":
        if not self.data.exists():
            self.root.mkdir(parents=True, exist_ok=True)
            if os.geteuid() == 0:
                shutil.chown(self.root, "postgres", "postgres")
            self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust")
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "log"), "-w",
                  "-o", f"-p {self.port} -h 127.0.0.1 -k {self.root} -c max_connections=200 -c fsync=on", "start")
        return self

    def stop(self, mode: str = "fast") -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def restart(self, down_seconds: float = 2.0) -> None:
        """Stop (open connections are cut), stay down a while, start again."""
        self.stop()
        time.sleep(down_seconds)
        self.start()

    def database(self, name: Optional[str] = None) -> str:
        """A new, empty database; its URL."""
        self._databases += 1
        name = name or f"ks1bot_{self._databases}"
        self._run(str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name)
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    def destroy(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


class RedisServer:
    """redis-server with its own configuration on a free loopback port, no persistence."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: Optional[subprocess.Popen] = None

    def start(self) -> "RedisServer":
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        if not Path(binary).exists():
            pytest.fail("redis-server is not installed; run `make test` (it installs the Debian package "
                        "redis-server).")
        self.root.mkdir(parents=True, exist_ok=True)
        config = self.root / "redis.conf"
        config.write_text(f"bind 127.0.0.1\nport {self.port}\nprotected-mode yes\nsave \"\"\nappendonly no\n"
                          f"dir {self.root}\nlogfile {self.root / 'redis.log'}\ndaemonize no\n")
        self.process = subprocess.Popen([binary, str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.port, 15)
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
