"""The conversations' files in the console: listed on the handoff, downloaded as
attachments (never rendered), images previewed only when their bytes are PNG, JPEG, GIF
or WebP; staff attach files to email replies (multipart upload, size-limited)."""
from __future__ import annotations

import html

import requests

from ks1bot.conversations.attachments import NewFile
from tests.support.files import PDF, png

from .conftest import PASSWORD, LiveServer, form_tokens, login, make_console, new_handoff


def email_handoff(store, conversation_id="<att-1@meier-bau.de>"):
    return new_handoff(store, channel="email", sender="h.meier@meier-bau.de", conversation_id=conversation_id,
                       subject="Screenshot", text="Siehe Screenshot im Anhang")


def save(store, conversation_id, files, max_bytes=25 * 1024 * 1024):
    return store.files.save_message_files("email", conversation_id, conversation_id, files, max_bytes)


def test_files_are_listed_downloaded_and_previewed_safely(console):
    handoff = email_handoff(console.store)
    shot = png()
    views = save(console.store, "<att-1@meier-bau.de>", [
        NewFile("Bildschirmfoto März.png", "image/png", shot),
        NewFile("bericht.pdf", "application/pdf", PDF),
        NewFile("<script>evil.html", "text/html", b"<script>alert(1)</script>"),
        NewFile("fake.png", "image/png", b"<html><script>alert(1)</script></html>"),   # declared image, is HTML
        NewFile("real.jpg", "application/octet-stream", b"\xff\xd8\xff\xe0" + b"\0" * 64),  # declared nothing, is JPEG
    ])
    ids = {v.filename: v.id for v in views}
    anna = login(console.url)
    page = anna.get(f"{console.url}/console/handoffs/{handoff}").text
    assert html.escape("<script>evil.html") in page and "<script>evil" not in page
    assert f'src="/console/attachments/{ids["Bildschirmfoto März.png"]}/preview"' in page
    assert f'src="/console/attachments/{ids["real.jpg"]}/preview"' in page
    assert f'/console/attachments/{ids["fake.png"]}/preview' not in page

    download = anna.get(f"{console.url}/console/attachments/{ids['Bildschirmfoto März.png']}")
    assert download.content == shot
    assert download.headers["Content-Type"] == "application/octet-stream"
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert "filename*=UTF-8''Bildschirmfoto%20M%C3%A4rz.png" in download.headers["Content-Disposition"]
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in download.headers["Content-Security-Policy"]
    evil = anna.get(f"{console.url}/console/attachments/{ids['<script>evil.html']}")
    assert evil.headers["Content-Type"] == "application/octet-stream" and evil.headers["Content-Disposition"].startswith(
        "attachment;")

    preview = anna.get(f"{console.url}/console/attachments/{ids['Bildschirmfoto März.png']}/preview")
    assert preview.status_code == 200 and preview.headers["Content-Type"] == "image/png" and preview.content == shot
    assert preview.headers["X-Content-Type-Options"] == "nosniff"
    assert anna.get(f"{console.url}/console/attachments/{ids['fake.png']}/preview").status_code == 404
    assert anna.get(f"{console.url}/console/attachments/{ids['<script>evil.html']}/preview").status_code == 404
    assert anna.get(f"{console.url}/console/attachments/{ids['real.jpg']}/preview").headers["Content-Type"] == \
        "image/jpeg"
    # not logged in: nothing
    assert requests.get(f"{console.url}/console/attachments/{ids['bericht.pdf']}", allow_redirects=False) \
        .status_code in (303, 401)


def test_files_over_the_limit_are_listed_not_stored(console):
    handoff = email_handoff(console.store, "<att-2@meier-bau.de>")
    [small, big] = save(console.store, "<att-2@meier-bau.de>", [NewFile("a.log", "text/plain", b"x" * 600),
                                                              NewFile("b.log", "text/plain", b"y" * 600)], 1000)
    assert small.stored and not big.stored and "larger than the limit" in big.note
    anna = login(console.url)
    page = anna.get(f"{console.url}/console/handoffs/{handoff}").text
    assert "b.log" in page and "larger than the limit" in page and f"/console/attachments/{big.id}" not in page
    assert anna.get(f"{console.url}/console/attachments/{big.id}").status_code == 404
    # the same message again (a retry after a crash) stores nothing twice
    again = save(console.store, "<att-2@meier-bau.de>", [NewFile("a.log", "text/plain", b"x" * 600),
                                                        NewFile("b.log", "text/plain", b"y" * 600)], 1000)
    assert [v.id for v in again] == [small.id, big.id]


def reply_with_files(session, base, handoff, files, text="Anbei die Anleitung."):
    csrf, form = form_tokens(session.get(f"{base}/console/handoffs/{handoff}").text)
    return session.post(f"{base}/console/handoffs/{handoff}/reply",
                        data={"csrf_token": csrf, "form_token": f"{form}-reply", "text": text}, files=files)


def test_staff_attach_files_to_an_email_reply(console):
    handoff = email_handoff(console.store, "<att-3@meier-bau.de>")
    anna = login(console.url)
    page = reply_with_files(anna, console.url, handoff, [("files", ("Anleitung Update.pdf", PDF, "application/pdf")),
                                                          ("files", ("schritt1.png", png(), "image/png"))])
    assert page.status_code == 200 and "Antwort eingereiht" in page.text
    view = console.store.get(handoff)
    [delivery] = view.deliveries
    files = console.store.files.for_outbox(delivery.id)
    assert [(f.filename, f.direction) for f in files] == [("Anleitung Update.pdf", "staff"), ("schritt1.png", "staff")]
    assert console.store.files.read(files[0]) == PDF
    assert "Anleitung Update.pdf" in page.text and "von Mitarbeitern gesendet" in page.text
    assert "[Attached: Anleitung Update.pdf, schritt1.png]" in view.messages[-1].text


def test_a_chat_reply_takes_no_files(console):
    handoff = new_handoff(console.store, channel="chat", sender="web-123")
    anna = login(console.url)
    page = reply_with_files(anna, console.url, handoff, [("files", ("a.pdf", PDF, "application/pdf"))])
    assert "Dateien können nur per E-Mail gesendet werden" in html.unescape(page.text)
    assert console.store.get(handoff).deliveries == ()


def test_uploads_are_size_limited(tmp_path, settings):
    from ks1bot.core.settings import MailSettings

    small = settings.with_overrides(mail=MailSettings(max_attachment_bytes=1024 * 1024))
    store, auth, app = make_console(small, f"sqlite:///{tmp_path / 'c.db'}")
    auth.add_staff("anna", PASSWORD)
    handoff = email_handoff(store, "<att-4@meier-bau.de>")
    with LiveServer(app) as server:
        anna = login(server.url)
        page = reply_with_files(anna, server.url, handoff, [("files", ("big.bin", b"z" * (1024 * 1024 + 1),
                                                                        "application/octet-stream"))])
        assert page.status_code == 413 and "höchstens 1 MB" in page.text
        assert store.get(handoff).deliveries == ()
        ok = reply_with_files(anna, server.url, handoff, [("files", ("ok.bin", b"z" * 1000, "application/octet-stream"))])
        assert ok.status_code == 200 and "Antwort eingereiht" in ok.text
