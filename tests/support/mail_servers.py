"""Real mail servers on loopback for the test suite and the benchmark: a throwaway
Dovecot IMAP server (Debian's dovecot-imapd, run in the foreground with its own
config in a temporary directory) and an aiosmtpd sink that plays the relay."""
from __future__ import annotations

import email
import email.policy
import os
import pwd
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import List, Optional

from aiosmtpd.controller import Controller

from tests.support.ports import free_port, wait_for_port


# -- the relay sink -------------------------------------------------------------------
@dataclass
class Received:
    mail_from: str
    rcpt_tos: List[str]
    data: bytes
    at: float = field(default_factory=time.time)

    @property
    def message(self) -> EmailMessage:
        return email.message_from_bytes(self.data, policy=email.policy.default)


class _Collector:
    def __init__(self, sink: "SmtpSink") -> None:
        self.sink = sink

    async def handle_DATA(self, server, session, envelope) -> str:
        with self.sink.lock:
            self.sink.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos),
                                               envelope.original_content or envelope.content))
            self.sink.lock.notify_all()
        return "250 OK"


class SmtpSink:
    """An SMTP server that keeps what it receives (the relay in tests). `stop()` and
    `start()` again on the same port simulate a relay that is down for a while."""

    def __init__(self, port: Optional[int] = None) -> None:
        self.port = port or free_port()
        self.received: List[Received] = []
        self.lock = threading.Condition()
        self._controller: Optional[Controller] = None

    def start(self) -> "SmtpSink":
        self._controller = Controller(_Collector(self), hostname="127.0.0.1", port=self.port,
                                      data_size_limit=0, ready_timeout=10.0)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def wait_for(self, count: int, timeout: float = 30.0) -> List[Received]:
        deadline = time.monotonic() + timeout
        with self.lock:
            while len(self.received) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.lock.wait(left)
            return list(self.received)

    def clear(self) -> None:
        with self.lock:
            self.received.clear()


# -- Dovecot ------------------------------------------------------------------------
DOVECOT_CONF = """\
protocols = imap
listen = 127.0.0.1
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
info_log_path = {d}/dovecot.log
ssl = {ssl}
{ssl_files}
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{d}/mail/%u
first_valid_uid = 1
mailbox_idle_check_interval = 1 secs
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={d}/home/%u
}}
namespace inbox {{
  inbox = yes
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
    ssl = yes
  }}
}}
"""


def dovecot_available() -> Optional[str]:
    """Why Dovecot cannot run here, else None."""
    if shutil.which("dovecot") is None and not Path("/usr/sbin/dovecot").exists():
        return "dovecot is not installed (scripts/install_system_deps.sh installs dovecot-imapd)"
    if os.geteuid() != 0:
        return "dovecot runs as root in the tests"
    return None


def make_certificate(directory: Path) -> Path:
    """A self-signed certificate for 127.0.0.1 (openssl); returns the PEM path."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True)
    return cert


class Dovecot:
    """A throwaway Dovecot with one user and a maildir in a temporary directory."""

    def __init__(self, user: str = "ks1", password: str = "secret", tls: bool = False) -> None:
        self.user, self.password, self.tls = user, password, tls
        self.dir = Path(tempfile.mkdtemp(prefix="ks1-dovecot-"))
        self.port = free_port()
        self.tls_port = free_port() if tls else 0
        self.cert: Optional[Path] = None
        self._process: Optional[subprocess.Popen] = None

    @property
    def binary(self) -> str:
        return shutil.which("dovecot") or "/usr/sbin/dovecot"

    @property
    def config(self) -> Path:
        return self.dir / "dovecot.conf"

    def url(self, tls: bool = False) -> str:
        if tls:
            return f"imaps://{self.user}:{self.password}@127.0.0.1:{self.tls_port}/INBOX"
        return f"imap://{self.user}:{self.password}@127.0.0.1:{self.port}/INBOX"

    def start(self) -> "Dovecot":
        nobody = pwd.getpwnam("nobody")
        os.chmod(self.dir, 0o755)
        for sub in ("run", "state", "mail", "home"):
            (self.dir / sub).mkdir(exist_ok=True)
        for sub in ("mail", "home"):
            os.chown(self.dir / sub, nobody.pw_uid, nobody.pw_gid)
        (self.dir / "passwd").write_text(f"{self.user}:{{PLAIN}}{self.password}\n")
        ssl_files = ""
        if self.tls:
            self.cert = make_certificate(self.dir)
            ssl_files = f"ssl_cert = <{self.dir}/cert.pem\nssl_key = <{self.dir}/key.pem"
        self.config.write_text(DOVECOT_CONF.format(
            d=self.dir, port=self.port, tls_port=self.tls_port, uid=nobody.pw_uid, gid=nobody.pw_gid,
            ssl="required" if self.tls else "no", ssl_files=ssl_files))
        self._process = subprocess.Popen([self.binary, "-F", "-c", str(self.config)],
                                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            wait_for_port(self.port)
            if self.tls:
                wait_for_port(self.tls_port)
        except TimeoutError:
            self.stop()
            raise RuntimeError(f"dovecot did not start: {self.log()[-2000:]}") from None
        return self

    def log(self) -> str:
        path = self.dir / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
        self._process = None
        shutil.rmtree(self.dir, ignore_errors=True)

    def kick(self) -> None:
        """Drop every IMAP connection of the user (as a server restart would)."""
        subprocess.run(["doveadm", "-c", str(self.config), "kick", self.user], check=False, capture_output=True)

    def client(self):
        from imapclient import IMAPClient

        client = IMAPClient("127.0.0.1", self.port, ssl=False, timeout=30)
        client.login(self.user, self.password)
        return client

    def append(self, raw: bytes, folder: str = "INBOX") -> None:
        client = self.client()
        try:
            client.append(folder, raw)
        finally:
            client.logout()

    def count(self, folder: str) -> int:
        client = self.client()
        try:
            if not client.folder_exists(folder):
                return 0
            return int(client.folder_status(folder, [b"MESSAGES"])[b"MESSAGES"])
        finally:
            client.logout()

    def folders(self) -> List[str]:
        client = self.client()
        try:
            return [name for _flags, _delim, name in client.list_folders()]
        finally:
            client.logout()
