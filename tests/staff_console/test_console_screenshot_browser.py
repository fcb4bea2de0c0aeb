""""See the screenshot attached" reaches staff with the screenshot: a customer's mail with
a screenshot and a PDF goes in through the real gateway's SMTP listener; in headless
Chromium the handoff shows the screenshot as a preview and both files download as they
were sent; staff attach a file to their reply and the gateway sends it as a MIME
attachment, threaded."""
from __future__ import annotations

import smtplib
from email.message import EmailMessage

import pytest

from browser import browser, screenshot
from tests.support.files import PDF, png
from tests.support.mail_servers import SmtpSink
from tests.support.ports import free_port

from .conftest import PASSWORD, LiveServer, make_console

MESSAGE_ID = "<screenshot-1@meier-bau.de>"


def customer_mail(shot: bytes) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = "Hans Meier <h.meier@meier-bau.de>"
    mail["To"] = "support@ks1-support.example"
    mail["Subject"] = "Fehlermeldung beim Buchen"
    mail["Message-ID"] = MESSAGE_ID
    mail.set_content("Hallo,\n\nbeim Buchen kommt eine Meldung, siehe den Screenshot im Anhang.\n\nGruß\nHans Meier\n")
    mail.add_attachment(shot, maintype="image", subtype="png", filename="Bildschirmfoto 2026-11-17 um 10.12.png")
    mail.add_attachment(PDF, maintype="application", subtype="pdf", filename="Prüfbericht März.pdf")
    return mail


@pytest.mark.slow
def test_a_screenshot_reaches_staff_and_staff_attach_a_file(tmp_path, settings):
    import dataclasses

    from ks1bot.app import wiring
    from mail_gateway.config import resolve
    from mail_gateway.gateway import MailGateway
    from tests.support import stub_router

    data = tmp_path / "data"
    url = f"sqlite:///{data / 'ks1bot.db'}"
    own = wiring.with_data_dir(dataclasses.replace(settings, mail=dataclasses.replace(
        settings.mail, warm_up=False, retry_seconds=0.2)), data)
    sink = SmtpSink().start()
    config = resolve(own, smtp_listen=f"127.0.0.1:{free_port()}", relay=f"127.0.0.1:{sink.port}",
                     data_dir=str(data), env={})
    gateway = MailGateway(config, stub_router.build(own, own.customers), wiring.handoff_store(own, url),
                          wiring.outbox(own, url))
    gateway.start()
    shot = png(40, 24)
    try:
        with smtplib.SMTP(*config.smtp_listen, timeout=30) as smtp:
            smtp.send_message(customer_mail(shot))
        [ack] = sink.wait_for(1, timeout=60)
        assert ack.message["In-Reply-To"] == MESSAGE_ID
        assert gateway.wait_idle(30)

        store, auth, app = make_console(own, url)
        auth.add_staff("anna", PASSWORD)
        [handoff] = [h.id for h in store.list(channel="email") if h.conversation_id == MESSAGE_ID]
        reply_file = tmp_path / "Anleitung Buchen.pdf"
        reply_file.write_bytes(PDF + b"% reply\n")
        with LiveServer(app) as console, browser() as context:
            page = context.new_page()
            page.goto(f"{console.url}/console/login")
            page.fill("input[name=name]", "anna")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_selector("table#queue")
            page.goto(f"{console.url}/console/handoffs/{handoff}")
            preview = page.locator("#attachments img.preview")
            preview.wait_for()
            assert preview.count() == 1
            page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=preview.element_handle())
            assert preview.evaluate("img => [img.naturalWidth, img.naturalHeight]") == [40, 24]
            assert "Prüfbericht März.pdf" in page.inner_text("#attachments")
            screenshot(page, "console-screenshot-attachment")
            for name, expected in (("Bildschirmfoto 2026-11-17 um 10.12.png", shot), ("Prüfbericht März.pdf", PDF)):
                with page.expect_download() as info:
                    page.click(f"#attachments a.download:has-text('{name}')")
                download = info.value
                assert download.suggested_filename == name
                assert open(download.path(), "rb").read() == expected

            # staff answer with a file of their own
            page.fill("#reply-text", "Guten Tag Herr Meier,\n\nanbei die Anleitung.\n\nViele Grüße\nAnna")
            page.set_input_files("#reply-files", str(reply_file))
            page.click("#send-reply")
            page.wait_for_selector(".notice.good")
            assert "Anleitung Buchen.pdf" in page.inner_text("#attachments")
        [_, reply] = sink.wait_for(2, timeout=60)
        msg = reply.message
        assert msg["In-Reply-To"] == MESSAGE_ID and "anna" in msg["From"]
        assert "anbei die Anleitung" in msg.get_body(("plain",)).get_content()
        [attached] = list(msg.iter_attachments())
        assert attached.get_filename() == "Anleitung Buchen.pdf" and attached.get_content() == PDF + b"% reply\n"
        assert attached.get_content_type() == "application/pdf"
    finally:
        gateway.stop()
        sink.stop()
