"""End to end: a mail through the gateway becomes a handoff; staff answer it in the
console in Chromium; the mail gateway sends the threaded reply to the relay (an SMTP
sink) and the console shows it sent."""
from __future__ import annotations

import re
import smtplib
import subprocess
import sys
import time
import uuid
from email.message import EmailMessage
from pathlib import Path

import pytest

from browser import browser, screenshot

PASSWORD = "correct-horse-battery"


@pytest.mark.slow
def test_staff_answer_an_email_handoff_and_the_customer_gets_a_threaded_reply(live_bot):
    ks1bot = str(Path(sys.executable).with_name("ks1bot"))
    subprocess.run([ks1bot, "--settings", str(live_bot.settings_file), "staff", "add", "bert", "--password-stdin"],
                   input=PASSWORD + "\n", text=True, check=True, capture_output=True)
    message_id = f"<{uuid.uuid4().hex}@meier-bau.de>"
    mail = EmailMessage()
    mail["From"] = "Hans Meier <h.meier@meier-bau.de>"
    mail["To"] = "support@ks1-support.example"
    mail["Subject"] = "Fehler beim Buchen <script>alert(1)</script>"
    mail["Message-ID"] = message_id
    mail.set_content("Hallo,\nseit heute stürzt KS1 beim Buchen der Wareneingänge mit 'Zugriffsverletzung' ab.\n"
                     "<img src=x onerror=\"window.__xss=1\">\n\nGruß\nHans Meier\n")
    with smtplib.SMTP("127.0.0.1", live_bot.smtp_port, timeout=30) as smtp:
        smtp.send_message(mail)

    store = live_bot.handoffs()
    deadline = time.monotonic() + 120
    handoff = None
    while handoff is None and time.monotonic() < deadline:
        handoff = next((h for h in store.list(channel="email") if h.conversation_id == message_id), None)
        time.sleep(0.5)
    assert handoff is not None, "the mail did not become a handoff"
    assert handoff.topic == "bug_report" and handoff.customer_id == "C1001"
    acknowledgement = live_bot.sink.wait_for(1, timeout=60)[0].message
    assert acknowledgement["In-Reply-To"] == message_id
    assert acknowledgement["Auto-Submitted"] == "auto-replied"
    live_bot.sink.clear()

    with browser() as context:
        page = context.new_page()
        page.goto(f"{live_bot.console_url}/console/login")
        page.fill("input[name=name]", "bert")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_selector("table#queue")
        page.click(f'tr[data-id="{handoff.id}"] a')
        page.wait_for_selector("pre.text")
        assert page.evaluate("window.__xss") is None
        assert "Zugriffsverletzung" in page.inner_text("ol.conversation")
        page.click("#claim")
        page.wait_for_selector(".notice.good")
        page.fill("#reply-text", "Guten Tag Herr Meier,\nwir haben den Fehler gefunden; ein Update folgt heute.\n"
                                 "Viele Grüße\nBert, KS1-Support")
        page.click("#send-reply")
        page.wait_for_selector(".notice.good")
        assert "Antwort eingereiht (email to" in page.inner_text(".notice")
        # the mail gateway's process sends it; the page follows the delivery without a reload
        page.locator("#deliveries .delivery-status", has_text=re.compile("^gesendet$")).first.wait_for(timeout=60_000)
        screenshot(page, "console-email-reply")

    reply = live_bot.sink.wait_for(1, timeout=60)[0].message
    assert reply["In-Reply-To"] == message_id
    assert message_id in reply["References"]
    assert reply["Subject"] == "Re: Fehler beim Buchen <script>alert(1)</script>"
    assert reply["To"].endswith("h.meier@meier-bau.de>") or reply["To"] == "h.meier@meier-bau.de"
    assert "Auto-Submitted" not in reply or reply["Auto-Submitted"] == "no"
    body = reply.get_body(("plain",)).get_content()
    assert "wir haben den Fehler gefunden" in body
    view = store.get(handoff.id)
    assert [e.action for e in view.events][-3:] == ["claimed", "replied", "delivered"]
