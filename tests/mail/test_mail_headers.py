"""The tolerant header layer (mail_gateway.headers) and what parse_mail makes of the
header shapes real mail brings, table-style."""
from __future__ import annotations

import base64
import email
import email.header
import email.policy

import pytest

from mail_gateway import headers as h
from mail_gateway.parsing import header_message_id, message_ids, normalize_message_id, parse_mail

PDF = b"%PDF-1.4 test"


def with_file(disposition: bytes, content_type: bytes = b"application/pdf", payload: bytes = PDF) -> bytes:
    return (b"From: Hans Meier <h.meier@musterhandel.example>\r\nTo: support@ks1-support.example\r\n"
            b"Subject: Pruefbericht\r\nMessage-ID: <file-1@musterhandel.example>\r\nMIME-Version: 1.0\r\n"
            b"Content-Type: multipart/mixed; boundary=\"XX\"\r\n\r\n"
            b"--XX\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSiehe Anhang, KS1 Fehler beim Buchen.\r\n"
            b"--XX\r\nContent-Type: " + content_type + b"\r\n"
            + (b"Content-Disposition: " + disposition + b"\r\n" if disposition else b"")
            + b"Content-Transfer-Encoding: base64\r\n\r\n" + base64.encodebytes(payload).replace(b"\n", b"\r\n")
            + b"--XX--\r\n")


@pytest.mark.parametrize("disposition, content_type, name", [
    # raw UTF-8 in the quoted file name (Apple Mail, many German clients): the crash
    ('attachment; filename="Prüfbericht März.pdf"'.encode("utf-8"), b"application/pdf", "Prüfbericht März.pdf"),
    # raw Windows-1252
    ('attachment; filename="Prüfbericht.pdf"'.encode("cp1252"), b"application/pdf", "Prüfbericht.pdf"),
    # RFC 2231 with a charset, and its continuations
    (b"attachment; filename*=UTF-8''Pr%C3%BCfbericht%20M%C3%A4rz.pdf", b"application/pdf", "Prüfbericht März.pdf"),
    (b"attachment;\r\n filename*0*=UTF-8''Pr%C3%BCf;\r\n filename*1=\"bericht.pdf\"", b"application/pdf",
     "Prüfbericht.pdf"),
    (b"attachment; filename*=iso-8859-1'de'Pr%FCfbericht.pdf", b"application/pdf", "Prüfbericht.pdf"),
    # RFC 2047 inside the quotes (Outlook, Thunderbird)
    (b"attachment; filename=\"=?UTF-8?Q?Pr=C3=BCfbericht.pdf?=\"", b"application/pdf", "Prüfbericht.pdf"),
    # only the Content-Type name; odd spellings of the disposition
    (b"", b"application/pdf; name=\"bericht.pdf\"", "bericht.pdf"),
    (b"ATTACHMENT; FILENAME=bericht.pdf", b"application/pdf", "bericht.pdf"),
    (b"attachment filename=bericht.pdf", b"application/pdf", "bericht.pdf"),
    (b"attachement; filename=bericht.pdf", b"application/pdf", "bericht.pdf"),
    (b"inline; filename=\"C:\\\\Users\\\\hm\\\\bericht.pdf\"", b"application/pdf", "bericht.pdf"),
    # nothing at all: a name is made up
    (b"", b"application/pdf", "attachment-1.pdf"),
])
def test_attachment_names(disposition, content_type, name):
    mail = parse_mail(with_file(disposition, content_type))
    assert mail.unparseable is None
    assert [(a.filename, a.data) for a in mail.attachments] == [(name, PDF)]
    assert "KS1 Fehler beim Buchen" in mail.body


def test_header_objects_and_bytes_are_text():
    raw = 'Subject: Größe\r\nContent-Disposition: attachment; filename="März.pdf"\r\n\r\nx'.encode("utf-8")
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    assert isinstance(msg.get("Content-Disposition"), email.header.Header)  # what broke `.split`
    assert h.text(msg.get("Content-Disposition")) == 'attachment; filename="März.pdf"'
    assert h.filename(msg) == "März.pdf" and h.disposition(msg) == "attachment"
    assert h.Headers.of(msg).get("Subject") == "Größe"
    assert h.text(b"Gr\xfc\xdfe") == "Grüße" and h.text(None) == ""


@pytest.mark.parametrize("value, decoded", [
    ("=?utf-8?q?Gr=C3=BC=C3=9Fe?= aus =?iso-8859-1?q?K=F6ln?=", "Grüße aus Köln"),
    ("=?NONE?B?VEVTVA=?=", "TEST"),                          # unknown charset: the bytes still read
    ("=?utf-8?B?#?=", "=?utf-8?B?#?="),                      # broken: kept as it was
    ("=?unknown-8bit?q?Gr=FC=DFe?=", "Grüße"),
    ("plain text\r\n folded", "plain text folded"),
])
def test_decode(value, decoded):
    assert h.decode(value) == decoded


def test_duplicate_and_missing_fields():
    raw = (b"Subject: first\r\nSubject: second\r\nFrom: a@musterhandel.example\r\nFrom: b@musterhandel.example\r\n"
           b"\r\nKS1 Fehler\r\n")
    mail = parse_mail(raw)
    assert mail.subject == "first" and mail.from_address == "a@musterhandel.example"
    assert mail.date is None and not mail.has_message_id and mail.message_id == header_message_id(raw)[0]


@pytest.mark.parametrize("prefix", [
    b"From h.meier@musterhandel.example  Thu May  3 12:04:29 2012\n",   # mbox
    b" " * 255 + b"\n",                                                  # a line of blanks
    b"\r\n\r\n",
    b"---- Original email message ----\r\n",                              # a client's note
])
def test_lines_before_the_headers(prefix):
    raw = prefix + b"From: Hans Meier <h.meier@musterhandel.example>\r\nSubject: KS1 Fehler\r\n" \
                   b"Message-ID: <pre-1@musterhandel.example>\r\n\r\nKS1 zeigt einen Fehler.\r\n"
    mail = parse_mail(raw)
    assert mail.unparseable is None and mail.message_id == "<pre-1@musterhandel.example>"
    assert mail.from_address == "h.meier@musterhandel.example" and mail.body.strip() == "KS1 zeigt einen Fehler."
    assert header_message_id(raw)[0] == "<pre-1@musterhandel.example>"


def test_a_broken_line_inside_the_header_block_keeps_the_fields_after_it():
    raw = (b"Received: by mx\r\nX-Tracker: H4sIAAAA\r\nIg5drOCwmrVzP5sDoseXbDeYAx\r\nWL2aW/TrRKrlLj19r1H4uNT+==\r\n"
           b"From: Hans Meier <h.meier@musterhandel.example>\r\nSubject  : KS1 Fehler\r\n"
           b"Message-ID: <broken-block@musterhandel.example>\r\n\r\nKS1 zeigt einen Fehler.\r\n")
    mail = parse_mail(raw)
    assert mail.from_address == "h.meier@musterhandel.example" and mail.subject == "KS1 Fehler"
    assert mail.message_id == "<broken-block@musterhandel.example>" == header_message_id(raw)[0]
    assert mail.body.strip() == "KS1 zeigt einen Fehler."


EXCHANGE = ("<MN6PR12MB4567A1B2C3D4E5F6A7B8C9D0E1F2A3B4C5@MN6PR12MB4567A1B2C3D4E5F6A7B8C9D0E1F2A3B4C5"
            ".namprd12.prod.outlook.com>")


@pytest.mark.parametrize("value, ids", [
    (EXCHANGE, (EXCHANGE,)),
    ("\r\n " + EXCHANGE, (EXCHANGE,)),                                        # folded onto the next line
    ("OF1A2B3C4D.5E6F7A8B-ONC1257A1B.00345678-C1257A1B.00356789@notes.example",   # Notes: no brackets
     ("<OF1A2B3C4D.5E6F7A8B-ONC1257A1B.00345678-C1257A1B.00356789@notes.example>",)),
    ("4F2A1B3C.5D6E.0077.0@gw.example 4F2A1B3D.5D6E.0077.0@gw.example",     # GroupWise References
     ("<4F2A1B3C.5D6E.0077.0@gw.example>", "<4F2A1B3D.5D6E.0077.0@gw.example>")),
    ("<a@x>\r\n <b@x> <a@x>", ("<a@x>", "<b@x>")),
    ("<MN6PR12MB45@MN6PR12MB45.namprd12.\r\n prod.outlook.com>", ("<MN6PR12MB45@MN6PR12MB45.namprd12.prod.outlook.com>",)),
    ("=?utf-8?q?=3CMN6PR12MB45=40MN6PR12MB45=2Eoutlook=2Ecom=3E?=", ("<MN6PR12MB45@MN6PR12MB45.outlook.com>",)),
    ("<b@x> (Hans Meier's message of Tue, 17 Nov 2026)", ("<b@x>",)),
    ("", ()),
])
def test_message_id_shapes(value, ids):
    assert message_ids(value) == ids
    assert normalize_message_id(value) == (ids[0] if ids else None)


def test_an_unbracketed_message_id_is_kept_and_threads():
    raw = (b"From: h.meier@musterhandel.example\r\nSubject: Re: KS1\r\n"
           b"Message-ID: OF1A2B3C4D.5E6F7A8B@notes.example\r\nIn-Reply-To: OF00AA.11@notes.example\r\n"
           b"References: OF00.10@notes.example OF00AA.11@notes.example\r\n\r\nKS1 Fehler\r\n")
    mail = parse_mail(raw)
    assert mail.has_message_id and mail.message_id == "<OF1A2B3C4D.5E6F7A8B@notes.example>"
    assert mail.message_id == header_message_id(raw)[0]
    assert mail.in_reply_to == ("<OF00AA.11@notes.example>",)
    assert mail.references == ("<OF00.10@notes.example>", "<OF00AA.11@notes.example>")


def test_inline_images_and_attached_messages_are_files():
    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 32
    raw = (b"From: h.meier@musterhandel.example\r\nSubject: Screenshot\r\nMIME-Version: 1.0\r\n"
           b"Content-Type: multipart/mixed; boundary=\"O\"\r\n\r\n"
           b"--O\r\nContent-Type: multipart/related; boundary=\"R\"\r\n\r\n"
           b"--R\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Siehe Screenshot <img src=\"cid:s1\"></p>\r\n"
           b"--R\r\nContent-Type: image/png\r\nContent-ID: <s1>\r\nContent-Transfer-Encoding: base64\r\n\r\n"
           + base64.encodebytes(png) + b"--R--\r\n"
           b"--O\r\nContent-Type: message/rfc822\r\n\r\nFrom: kunde@example.de\r\nSubject: Fehler im Lager\r\n\r\n"
           b"Alter Text\r\n--O--\r\n")
    mail = parse_mail(raw)
    # the attached message's text follows as a forward (a forward as attachment is read like one)
    text, forwarded = mail.body.split("---------- Attached message ----------")
    assert "Siehe Screenshot" in text and "Subject: Fehler im Lager" in forwarded and "Alter Text" in forwarded
    files = {a.filename: a for a in mail.attachments}
    assert files["attachment-1.png"].data == png and files["attachment-1.png"].inline
    assert files["Fehler im Lager.eml"].content_type == "message/rfc822"
    assert b"Alter Text" in files["Fehler im Lager.eml"].data


def test_a_calendar_reply_is_recognised():
    raw = (b"From: h.meier@musterhandel.example\r\nSubject: Akzeptiert: Schulung\r\nMIME-Version: 1.0\r\n"
           b"Content-Type: text/calendar; method=REPLY; charset=utf-8\r\n\r\n"
           b"BEGIN:VCALENDAR\r\nMETHOD:REPLY\r\nEND:VCALENDAR\r\n")
    mail = parse_mail(raw)
    assert mail.calendar_method == "REPLY" and mail.part_types == ("text/calendar",)
