"""MIME → text: charsets, HTML, attachments, broken mail; and the text that gets
classified after quoted history and signatures are stripped (German and English)."""
from __future__ import annotations

import datetime as dt

import pytest

import mail_samples as m
from ks1bot.core.messages import InboundMessage
from ks1bot.nlu.router import text_to_classify
from mail_gateway.parsing import decode_text, header_message_id, malformed_reason, message_ids, parse_mail


def classified(raw: bytes) -> str:
    mail = parse_mail(raw)
    return text_to_classify(InboundMessage(id=mail.message_id, channel="email", received_at=dt.datetime.now(dt.timezone.utc),
                                           sender=mail.from_address, text=mail.body, subject=mail.subject))


@pytest.mark.parametrize("raw, contains, absent", [
    # "AW: Drucker im Lager" names the old thread: the reply subject is not classified (SPEC §8)
    (m.german_outlook(), ["stürzt KS1 beim Buchen", "Niemand kann arbeiten"],
     ["Drucker im Lager", "Ursprüngliche", "Gesendet", "Administrator", "Lagerleitung", "+49 30"]),
    (m.html_only(), ["VAT update", "which KS1 update contains the new VAT rates", "Update Tool"],
     ["<p>", "Old text about printers", "wrote:"]),
    (m.iso_8859_1(), ["Frage zum Update für die MwSt-Änderung", "Mehrwertsteuer-Änderung"], ["\ufffd"]),
    (m.mislabelled_charset(), ["Grüße, beim Öffnen der Rechnung"], ["Ã", "\ufffd"]),
    (m.wrong_utf8_label(), ["Schöne Grüße aus Düsseldorf", "Größe der Maße"], ["\ufffd"]),
    (m.eight_bit_headers(), ["Fehler bei Größenangaben in KS1"], ["\ufffd"]),
])
def test_text_to_classify(raw, contains, absent):
    text = classified(raw)
    for part in contains:
        assert part in text
    for part in absent:
        assert part not in text


@pytest.mark.parametrize("body, kept, dropped", [
    # Outlook (German): "Von: … Gesendet: …" block without separator line
    ("Bitte rufen Sie mich wegen KS1 zurück.\n\nVon: Support <support@ks1-support.example>\n"
     "Gesendet: Montag, 16. November 2026 14:02\nAn: Meier\nBetreff: Frage\n\nAlter Text", "rufen Sie mich", "Alter Text"),
    # Thunderbird / Apple Mail (German)
    ("Das Update hat geklappt, aber der Export fehlt.\n\nAm 16.11.2026 um 14:02 schrieb KS1 Support:\n> Alter Text\n",
     "Export fehlt", "Alter Text"),
    # Gmail (English) and "> " quotes
    ("Still broken after the update.\n\nOn Mon, Nov 16, 2026 at 2:02 PM KS1 Support <support@ks1-support.example> wrote:\n"
     "> Old text\n> more old text\n", "Still broken", "Old text"),
    # Outlook (English)
    ("Please call me back.\n\n-----Original Message-----\nFrom: Support\nSent: Monday\nSubject: x\n\nOld text",
     "call me back", "Old text"),
    # inline "> " quotes only
    ("> Wie ist die Fehlermeldung?\nEs kommt Fehler 4711 beim Buchen.\n", "Fehler 4711", "Wie ist die Fehlermeldung"),
    # "-- " signature
    ("KS1 startet nicht mehr.\n-- \nHans Meier\nMusterhandel GmbH\n", "startet nicht", "Musterhandel GmbH"),
])
def test_quotes_and_signatures_are_stripped(body, kept, dropped):
    text = classified(m.plain("Frage", body))
    assert kept in text and dropped not in text


def test_outlook_html_reply_is_stripped():
    html = ("<html><body><p>Bitte um Rückruf wegen KS1.</p><div><div style='border:none;border-top:solid #E1E1E1 1.0pt'>"
            "<p><b>Von:</b> KS1 Support &lt;support@ks1-support.example&gt;<br><b>Gesendet:</b> Montag, 16. November 2026 "
            "14:02<br><b>An:</b> Meier<br><b>Betreff:</b> Frage</p></div></div><p>Alter Text zum Drucker</p></body></html>")
    raw = m.plain("Frage", "x").replace(b"Content-Type: text/plain", b"Content-Type: text/html")
    raw = raw.split(b"\n\n", 1)[0] + b"\n\n" + html.encode()
    text = classified(raw)
    assert "Rückruf wegen KS1" in text and "Alter Text" not in text


def test_attachments_are_listed_not_read():
    mail = parse_mail(m.with_attachment(10 * 1024 * 1024))
    assert [(a.filename, a.size) for a in mail.attachments] == [("ks1-protokoll.log", 10 * 1024 * 1024)]
    assert "KS1 log line" not in mail.body and "Protokoll zum KS1 Fehler" in mail.body


def test_threading_headers_and_ids():
    mail = parse_mail(m.plain("Re: x", "y", in_reply_to="<b@x>", references="<a@x> <b@x>"))
    assert mail.in_reply_to == ("<b@x>",) and mail.references == ("<a@x>", "<b@x>")
    assert message_ids("<a@x>\r\n <b@x> <a@x>") == ("<a@x>", "<b@x>")
    assert header_message_id(m.plain("x", "y", message_id="<id-7@x>"))[0] == "<id-7@x>"


def test_mail_without_message_id_gets_a_stable_one():
    raw = m.plain("x", "y", message_id=None)
    first, second = parse_mail(raw), parse_mail(raw)
    assert not first.has_message_id and first.message_id == second.message_id
    assert first.message_id == header_message_id(raw)[0]


def test_broken_mime_and_missing_from_still_parse():
    broken = parse_mail(m.broken_mime())
    assert "Fehler beim Buchen" in broken.body and "NoBoundaryInMultipartDefect" in broken.defects
    nofrom = parse_mail(m.missing_from())
    assert nofrom.from_address == "" and nofrom.reply_address == ""
    assert parse_mail(m.missing_from(), envelope_sender="<k@musterhandel.example>").reply_address == "k@musterhandel.example"


@pytest.mark.parametrize("raw, reason", [
    (b"", "empty"),
    (b"   \r\n", "empty"),
    (b"Hello, this is not a mail\r\n", "does not start with a header"),
    (b"X-Foo: bar\r\n\r\nbody", "none of the header fields"),
])
def test_malformed_for_the_smtp_listener(raw, reason):
    assert reason in malformed_reason(raw)


@pytest.mark.parametrize("raw, reason", [
    (b"", "empty"),
    (b"   \r\n", "empty"),
    (b"Hello, this is not a mail\r\nnor is this\r\nor this\r\n\r\nbody", "no header block"),
])
def test_parse_mail_never_raises_it_says_why_it_cannot_read(raw, reason):
    mail = parse_mail(raw, envelope_sender="<k@musterhandel.example>")
    assert reason in mail.unparseable
    assert mail.reply_address == "k@musterhandel.example" and mail.message_id == header_message_id(raw)[0]
    assert raw.decode().strip() in mail.body or not raw.strip()


def test_a_mail_with_only_uncommon_headers_is_still_read():
    mail = parse_mail(b"X-Foo: bar\r\n\r\nbody")
    assert mail.unparseable is None and mail.body.strip() == "body"


@pytest.mark.parametrize("payload, declared, expected", [
    ("Grüße".encode("utf-8"), "utf-8", "Grüße"),
    ("Grüße".encode("iso-8859-1"), "iso-8859-1", "Grüße"),
    ("Grüße".encode("utf-8"), "iso-8859-1", "Grüße"),   # label says Latin-1, bytes are UTF-8
    ("Grüße".encode("cp1252"), "utf-8", "Grüße"),       # label says UTF-8, bytes are not
    ("Grüße".encode("utf-8"), "x-unknown-charset", "Grüße"),
    ("Grüße".encode("utf-8"), None, "Grüße"),
])
def test_decode_text(payload, declared, expected):
    assert decode_text(payload, declared) == expected


# -- classes found on the real-mail corpus ------------------------------------------------------
def test_html_text_without_markdown_escapes_and_doubled_autolinks():
    from mail_gateway.parsing import html_to_text

    text = html_to_text("<p>Mit einem Account (z. B. <a href='http://web.de'>web.de</a>) testen, "
                        "<a href='https://ks1.example/hilfe'>Hilfe</a>.</p><p>-- <br>Anna</p><p>1. Schritt</p>")
    assert "(z. B. web.de)" in text and "[Hilfe][" in text and "https://ks1.example/hilfe" in text
    assert "\\--" not in text and "\n-- " in text or text.count("--") == 1
    assert "http://web.de" not in text


def test_an_inline_html_part_next_to_the_text_is_text_too():
    # Horde forwards an HTML mail as an inline text/html part before the text/plain note
    raw = (b"From: a@x.example\r\nSubject: Fwd: KS1\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"M\"\r\n"
           b"\r\n--M\r\nContent-Type: text/html; charset=utf-8\r\nContent-Disposition: inline\r\n\r\n"
           b"<p>KS1 druckt keine Etiketten mehr.</p>\r\n--M\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
           b"Siehe unten.\r\n--M--\r\n")
    body = parse_mail(raw).body
    assert "KS1 druckt keine Etiketten mehr." in body and "Siehe unten." in body
    # the HTML alternative of a text part is not text twice
    alternative = raw.replace(b"multipart/mixed", b"multipart/alternative").replace(b"KS1 druckt", b"Siehe unten. KS1 druckt")
    assert parse_mail(alternative).body.strip() == "Siehe unten."


def test_undeclared_8bit_text_in_a_german_mailbox_is_windows_1252():
    assert decode_text("äöüß ad asd".encode("cp1252"), None) == "äöüß ad asd"
    assert decode_text("Größe".encode("cp1252"), None) == "Größe"


def test_a_mail_attached_to_a_mail_is_read_below_a_marker():
    from email.message import EmailMessage
    from email.policy import SMTP

    inner = EmailMessage(policy=SMTP)
    inner["From"], inner["Subject"] = "Lager <l@x.example>", "Störung"
    inner.set_content("KS1 hängt bei jeder Buchung.")
    outer = EmailMessage(policy=SMTP)
    outer["From"], outer["Subject"] = "h@x.example", "Fwd: Störung"
    outer.set_content("Check the forwarded message")
    outer.add_attachment(inner)
    mail = parse_mail(outer.as_bytes())
    note, rest = mail.body.split("---------- Attached message ----------")
    assert note.strip() == "Check the forwarded message" and "Subject: Störung" in rest
    assert "KS1 hängt bei jeder Buchung." in rest
    assert [a.content_type for a in mail.attachments] == ["message/rfc822"]
    assert "KS1 hängt bei jeder Buchung" in classified(outer.as_bytes())
