"""The console only enqueues; the mail gateway's own process sends. With the gateway
stopped, a staff reply from the console stays "queued" and nothing reaches the relay;
once the gateway runs again, exactly one threaded reply goes out and the console shows
"sent", live (server-sent events)."""
from __future__ import annotations

import json
import smtplib
import subprocess
import sys
import time
import uuid
from email.message import EmailMessage
from pathlib import Path

import pytest
import requests
import yaml

from tests.support.mail_servers import SmtpSink
from tests.support.ports import free_port, wait_for_port

from .conftest import PASSWORD, LiveServer, form_tokens, login, make_console

ROOT = Path(__file__).resolve().parents[2]


class GatewayProcess:
    """`ks1bot mail serve` in its own process (the stub router: it starts in seconds)."""

    def __init__(self, settings_file: Path, data: Path, smtp_port: int) -> None:
        self.command = [sys.executable, "-m", "tests.support.mail_launcher", "--stub-router",
                        "--settings", str(settings_file), "mail", "serve",
                        "--smtp-listen", f"127.0.0.1:{smtp_port}", "--data-dir", str(data)]
        self.smtp_port = smtp_port
        self.log = data.parent / "gateway.log"
        self.process = None

    def start(self) -> None:
        self.process = subprocess.Popen(self.command, cwd=ROOT, stdout=open(self.log, "a"), stderr=subprocess.STDOUT)
        wait_for_port(self.smtp_port, timeout=60)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)


def customer_mail(message_id: str) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = "Hans Meier <h.meier@meier-bau.de>"
    mail["To"] = "support@ks1-support.example"
    mail["Subject"] = "KS1 Fehler beim Buchen"
    mail["Message-ID"] = message_id
    mail.set_content("Hallo,\nseit heute stürzt KS1 beim Buchen mit einem Fehler ab.\n\nGruß\nHans Meier\n")
    return mail


def delivery_events(url: str, session: requests.Session, handoff: int, until: str, timeout: float = 60.0):
    """The delivery states the console's event stream reports for the handoff's deliveries, until one is `until`."""
    labels = []
    deadline = time.monotonic() + timeout
    with session.get(f"{url}/console/events", params={"handoff": handoff}, stream=True, timeout=timeout) as stream:
        for line in stream.iter_lines(decode_unicode=True):
            if line and line.startswith("data: "):
                labels.append(json.loads(line[6:])["status"])
                if labels[-1] == until:
                    break
            if time.monotonic() > deadline:
                break
    return labels


@pytest.mark.slow
def test_a_staff_email_reply_is_sent_by_the_gateway_process_not_the_console(tmp_path, settings):
    from ks1bot.core.settings import load_settings

    sink = SmtpSink().start()
    url = f"sqlite:///{tmp_path / 'ks1bot.db'}"
    settings_file = tmp_path / "settings.yml"
    settings_file.write_text(yaml.safe_dump({
        "our_addresses": list(settings.our_addresses), "message_id_domain": settings.message_id_domain,
        "customers": str(settings.customers), "data_dir": str(tmp_path / "var"), "database_url": url,
        "mail": {"warm_up": False, "retry_seconds": 0.2, "relay": f"127.0.0.1:{sink.port}", "relay_starttls": False},
    }))
    gateway = GatewayProcess(settings_file, tmp_path / "mail", free_port())
    try:
        gateway.start()
        message_id = f"<{uuid.uuid4().hex}@meier-bau.de>"
        with smtplib.SMTP("127.0.0.1", gateway.smtp_port, timeout=30) as smtp:
            smtp.send_message(customer_mail(message_id))
        acknowledgement = sink.wait_for(1, timeout=60)[0].message
        assert acknowledgement["In-Reply-To"] == message_id
        gateway.stop()

        store, auth, app = make_console(load_settings(settings_file), url)
        auth.add_staff("anna", PASSWORD)
        [handoff] = [h.id for h in store.list(channel="email") if h.conversation_id == message_id]
        with LiveServer(app) as console:
            anna = login(console.url)
            csrf, form = form_tokens(anna.get(f"{console.url}/console/handoffs/{handoff}").text)
            page = anna.post(f"{console.url}/console/handoffs/{handoff}/reply",
                             data={"csrf_token": csrf, "form_token": f"{form}-reply",
                                   "text": "Guten Tag Herr Meier,\nwir haben den Fehler behoben.\nViele Grüße, Anna"})
            assert "Antwort eingereiht (email to h.meier@meier-bau.de)" in page.text
            assert 'class="delivery-status">eingereiht<' in page.text
            time.sleep(2.0)
            assert len(sink.received) == 1  # the console sent nothing

            gateway.start()
            labels = delivery_events(console.url, anna, handoff, until="sent")
            assert labels[0] in ("queued", "sending") and labels[-1] == "sent", labels
            assert 'class="delivery-status">gesendet<' in anna.get(f"{console.url}/console/handoffs/{handoff}").text

        time.sleep(1.0)  # a second copy, if any, would arrive now
        replies = sink.received[1:]
        assert len(replies) == 1
        reply = replies[0].message
        assert reply["In-Reply-To"] == message_id and message_id in reply["References"]
        assert reply["Subject"] == "Re: KS1 Fehler beim Buchen" and "anna" in reply["From"]
        assert "Auto-Submitted" not in reply
        assert "wir haben den Fehler behoben" in reply.get_body(("plain",)).get_content()
        view = store.get(handoff)
        assert [e.action for e in view.events][-2:] == ["replied", "delivered"]
        assert view.deliveries[0].reference == reply["Message-ID"]
    finally:
        gateway.stop()
        sink.stop()
