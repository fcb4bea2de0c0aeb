"""Real-looking mails for the tests (bytes, as they arrive)."""
from __future__ import annotations

from email.message import EmailMessage
from email.policy import SMTP
from typing import Optional

SUPPORT = "support@ks1-support.example"


def plain(subject: str, body: str, *, sender: str = "Hans Meier <h.meier@musterhandel.example>",
          message_id: Optional[str] = "<m1@musterhandel.example>", headers=(), charset: str = "utf-8",
          in_reply_to: Optional[str] = None, references: Optional[str] = None) -> bytes:
    msg = EmailMessage(policy=SMTP)
    if sender is not None:
        msg["From"] = sender
    msg["To"] = SUPPORT
    msg["Subject"] = subject
    msg["Date"] = "Tue, 17 Nov 2026 10:20:00 +0100"
    if message_id:
        msg["Message-ID"] = message_id
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
    if references:
        msg["References"] = references
    for name, value in headers:
        msg[name] = value
    msg.set_content(body, charset=charset)
    return msg.as_bytes()


GERMAN_OUTLOOK_BODY = """Hallo zusammen,

seit heute Morgen stürzt KS1 beim Buchen von Lieferscheinen mit einer Fehlermeldung ab.
Niemand kann arbeiten, das Lager steht still.

Mit freundlichen Grüßen
Hans Meier
Musterhandel GmbH | Lagerleitung
Tel. +49 30 123456

-----Ursprüngliche Nachricht-----
Von: KS1 Support <support@ks1-support.example>
Gesendet: Montag, 16. November 2026 14:02
An: Hans Meier <h.meier@musterhandel.example>
Betreff: AW: Drucker im Lager

Guten Tag Herr Meier, Drucker gehören nicht zum Support-Umfang. Bitte wenden Sie sich an Ihren Administrator.
"""


def german_outlook() -> bytes:
    """Outlook (German): new text, a signature, and the quoted history below
    "-----Ursprüngliche Nachricht-----"."""
    return plain("AW: Drucker im Lager", GERMAN_OUTLOOK_BODY, message_id="<outlook-1@musterhandel.example>",
                 headers=(("X-Mailer", "Microsoft Outlook 16.0"), ("Thread-Topic", "Drucker im Lager")))


def html_only() -> bytes:
    html = ("<html><body><div dir='ltr'><p>Hello,</p><p>which <b>KS1 update</b> contains the new VAT rates, "
            "and how do I install it with the <i>Update Tool</i>?</p><p>Best regards<br>Jane Smith</p>"
            "<div class='gmail_quote'>On Mon, Nov 16, 2026 at 9:00 AM KS1 Support &lt;support@ks1-support.example&gt; "
            "wrote:<br><blockquote>Old text about printers</blockquote></div></div></body></html>")
    msg = EmailMessage(policy=SMTP)
    msg["From"] = "Jane Smith <jane@example-trading.example>"
    msg["To"] = SUPPORT
    msg["Subject"] = "VAT update"
    msg["Message-ID"] = "<html-1@example-trading.example>"
    msg.set_content(html, subtype="html")
    return msg.as_bytes()


def iso_8859_1() -> bytes:
    body = "Guten Tag,\nwie spielen wir das KS1 Update für die Mehrwertsteuer-Änderung ein?\nGrüße aus Köln\n"
    return (b"From: =?iso-8859-1?q?J=FCrgen_B=E4cker?= <j.baecker@musterhandel.example>\r\n"
            b"To: support@ks1-support.example\r\nSubject: =?iso-8859-1?q?Frage_zum_Update_f=FCr_die_MwSt-=C4nderung?=\r\n"
            b"Message-ID: <latin1-1@musterhandel.example>\r\nMIME-Version: 1.0\r\n"
            b"Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
            + body.replace("\n", "\r\n").encode("iso-8859-1"))


def mislabelled_charset() -> bytes:
    """Says us-ascii, is UTF-8; and a second part that says utf-8 but is Windows-1252."""
    return (b"From: Peter Wolf <p.wolf@musterhandel.example>\r\nTo: support@ks1-support.example\r\n"
            b"Subject: Fehler beim Drucken der Rechnung\r\nMessage-ID: <mislabel-1@musterhandel.example>\r\n"
            b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
            + "Grüße, beim Öffnen der Rechnung in KS1 erscheint ein Fehler: Zugriffsverletzung.\r\n".encode("utf-8"))


def wrong_utf8_label() -> bytes:
    return (b"From: a@musterhandel.example\r\nTo: support@ks1-support.example\r\nSubject: Frage\r\n"
            b"Message-ID: <mislabel-2@musterhandel.example>\r\nContent-Type: text/plain; charset=utf-8\r\n"
            b"Content-Transfer-Encoding: 8bit\r\n\r\n"
            + "Schöne Grüße aus Düsseldorf, die Größe der Maße stimmt nicht.\r\n".encode("cp1252"))


def with_attachment(size: int, *, message_id: str = "<attach-1@musterhandel.example>") -> bytes:
    msg = EmailMessage(policy=SMTP)
    msg["From"] = "Hans Meier <h.meier@musterhandel.example>"
    msg["To"] = SUPPORT
    msg["Subject"] = "Fehlerprotokoll"
    msg["Message-ID"] = message_id
    msg.set_content("Hallo, im Anhang das Protokoll zum KS1 Fehler beim Buchen.\nGruß Hans Meier\n")
    payload = (b"KS1 log line 0123456789 abcdefghijklmnopqrstuvwxyz\n" * (size // 50 + 1))[:size]
    msg.add_attachment(payload, maintype="application", subtype="octet-stream", filename="ks1-protokoll.log")
    return msg.as_bytes()


def out_of_office() -> bytes:
    return plain("Automatische Antwort: Ihre Anfrage",
                 "Ich bin bis zum 30.11. nicht im Büro. Ihre Nachricht wird nicht weitergeleitet. "
                 "In dringenden Fällen wenden Sie sich an Frau Schulz.",
                 message_id="<ooo-1@musterhandel.example>")


def bounce() -> bytes:
    return (b"Return-Path: <>\r\nFrom: Mail Delivery System <MAILER-DAEMON@mx.musterhandel.example>\r\n"
            b"To: support@ks1-support.example\r\nSubject: Undelivered Mail Returned to Sender\r\n"
            b"Message-ID: <bounce-1@mx.musterhandel.example>\r\nMIME-Version: 1.0\r\n"
            b"Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n"
            b"--B\r\nContent-Type: text/plain\r\n\r\nThe mail could not be delivered.\r\n"
            b"--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.musterhandel.example\r\n\r\n"
            b"Final-Recipient: rfc822; nobody@musterhandel.example\r\nAction: failed\r\nStatus: 5.1.1\r\n"
            b"--B--\r\n")


def mailing_list() -> bytes:
    return plain("[ks1-users] Wie bucht ihr Gutschriften?", "Hallo Liste, wie bucht ihr Gutschriften in KS1?",
                 message_id="<list-1@lists.example>",
                 headers=(("List-Id", "KS1 users <ks1-users.lists.example>"),
                          ("List-Unsubscribe", "<mailto:ks1-users-leave@lists.example>"),
                          ("Precedence", "list")))


def own_reply_back(domain: str = "ks1bot.invalid") -> bytes:
    """One of our own replies, returned to us (a forwarding loop)."""
    return plain("Re: KS1 Fehler", "Guten Tag, vielen Dank für Ihre Nachricht.",
                 sender=f"KS1 Support <{SUPPORT}>", message_id=f"<ks1.auto.0123456789abcdef@{domain}>",
                 headers=(("Auto-Submitted", "auto-replied"),))


def broken_mime() -> bytes:
    return (b"From: h.meier@musterhandel.example\r\nTo: support@ks1-support.example\r\nSubject: KS1 Fehler\r\n"
            b"Message-ID: <broken-1@musterhandel.example>\r\nMIME-Version: 1.0\r\n"
            b"Content-Type: multipart/mixed\r\n\r\n"
            b"KS1 zeigt einen Fehler beim Buchen.\r\n--nothing\r\nContent-Type: text/plain\r\n\r\ntrunc")


def missing_from() -> bytes:
    return (b"To: support@ks1-support.example\r\nSubject: KS1 Fehler\r\nMessage-ID: <nofrom-1@musterhandel.example>\r\n"
            b"\r\nKS1 zeigt einen Fehler beim Buchen.\r\n")


def eight_bit_headers() -> bytes:
    return ("From: Jürgen Bäcker <j.baecker@musterhandel.example>\r\nTo: support@ks1-support.example\r\n"
            "Subject: Fehler bei Größenangaben in KS1\r\nMessage-ID: <8bit-1@musterhandel.example>\r\n\r\n"
            "KS1 zeigt bei Größenangaben einen Fehler.\r\n").encode("utf-8")


def big(total: int, message_id: str = "<big-1@musterhandel.example>") -> bytes:
    """A mail of about `total` bytes (a base64 attachment: 3/4 of it, less line ends)."""
    return with_attachment(int(total * 0.73) - 4096, message_id=message_id)
