"""Debian's nginx with the shipped production configuration (deploy/nginx/ks1bot.conf,
rendered by `ks1bot deploy nginx`), on free loopback ports with its own prefix, a
self-signed certificate made by openssl, its own pid, logs and temp directories — never
the system's configuration, never port 80 or 443."""
from __future__ import annotations

import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Optional

import pytest

from tests.support.ports import free_port, wait_for_port

WRAPPER = """user root;
worker_processes 1;
daemon off;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 512; }}
http {{
    client_body_temp_path {root}/tmp/client_body;
    proxy_temp_path {root}/tmp/proxy;
    fastcgi_temp_path {root}/tmp/fastcgi;
    uwsgi_temp_path {root}/tmp/uwsgi;
    scgi_temp_path {root}/tmp/scgi;
    include {root}/ks1bot.conf;
}}
"""


def nginx_binary() -> str:
    found = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(found).exists():
        pytest.fail("nginx is not installed; run `make test` (it installs the Debian package nginx).")
    return found


class Nginx:
    """The production front in front of a running bot (its Rasa server and console)."""

    def __init__(self, root: Path, rasa: str, console: str) -> None:
        self.root = root
        self.rasa, self.console = rasa, console
        self.port, self.http_port = free_port(), free_port()
        self.url = f"https://127.0.0.1:{self.port}"
        self.cert, self.key = root / "cert.pem", root / "key.pem"
        self.access_log = root / "access.log"
        self.process: Optional[subprocess.Popen] = None

    def start(self) -> "Nginx":
        from ks1bot.app.deploy_cli import render_nginx

        (self.root / "tmp").mkdir(parents=True, exist_ok=True)
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-keyout", str(self.key), "-out", str(self.cert), "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
        conf = render_nginx({"SERVER_NAME": "127.0.0.1", "CERT": str(self.cert), "KEY": str(self.key),
                             "LISTEN": f"127.0.0.1:{self.port}", "HTTP_LISTEN": f"127.0.0.1:{self.http_port}",
                             "RASA": self.rasa, "CONSOLE": self.console, "ACCESS_LOG": str(self.access_log)})
        (self.root / "ks1bot.conf").write_text(conf)
        (self.root / "nginx.conf").write_text(WRAPPER.format(root=self.root))
        binary = nginx_binary()
        checked = subprocess.run([binary, "-t", "-p", str(self.root), "-c", str(self.root / "nginx.conf")],
                                 capture_output=True, text=True)
        assert checked.returncode == 0, checked.stderr
        self.process = subprocess.Popen([binary, "-p", str(self.root), "-c", str(self.root / "nginx.conf")],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait_for_port(self.port, timeout=20)
        return self

    def ssl_context(self):
        import ssl

        return ssl.create_default_context(cafile=str(self.cert))

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)  # graceful: the master stops its workers
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        time.sleep(0.1)
