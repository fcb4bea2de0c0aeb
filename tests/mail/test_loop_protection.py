from __future__ import annotations

import pytest

from mail_gateway.loop_protection import MailFacts, auto_reply_reason

OURS = ("support@ks1-support.example",)


def facts(**kw):
    kw.setdefault("sender", "kunde@example.de")
    kw.setdefault("our_addresses", OURS)
    kw.setdefault("our_message_id_domain", "ks1bot.invalid")
    return MailFacts(**kw)


@pytest.mark.parametrize("headers, reason", [
    ((("Auto-Submitted", "auto-replied"),), "auto_submitted"),
    ((("Auto-Submitted", "auto-generated; type=vacation"),), "auto_submitted"),
    ((("Content-Type", "multipart/report; report-type=delivery-status"),), "bounce"),
    ((("Return-Path", "<>"),), "bounce"),
    ((("Precedence", "bulk"),), "precedence_bulk"),
    ((("Precedence", "list"),), "precedence_bulk"),
    ((("Precedence", "junk"),), "precedence_bulk"),
    ((("List-Id", "<ks1-users.lists.example>"),), "mailing_list"),
    ((("List-Unsubscribe", "<mailto:x@y>"),), "mailing_list"),
    ((("X-Autoreply", "yes"),), "x_autoreply"),
    ((("X-Auto-Response-Suppress", "All"),), "auto_response_suppress"),
    ((("Message-ID", "<abc.123@ks1bot.invalid>"),), "own_message_id"),
])
def test_header_rules(headers, reason):
    assert auto_reply_reason(facts(headers=headers, subject="Frage", body="Hallo")) == reason


def test_auto_submitted_no_is_a_person():
    assert auto_reply_reason(facts(headers=(("Auto-Submitted", "no"),), subject="Frage", body="KS1 Fehler")) is None


def test_our_own_address_and_bounce_senders():
    assert auto_reply_reason(facts(sender="KS1 Support <Support@ks1-support.example>")) == "own_address"
    assert auto_reply_reason(facts(sender="MAILER-DAEMON@mx.example.de", subject="x")) == "bounce"
    assert auto_reply_reason(facts(subject="Undelivered Mail Returned to Sender")) == "bounce"


@pytest.mark.parametrize("subject, body", [
    ("Abwesenheitsnotiz", "Ich bin bis 24.11. im Urlaub. Ihre Nachricht wird nicht weitergeleitet."),
    ("Automatische Antwort: Ihre Anfrage", "Danke für Ihre Nachricht."),
    ("Out of Office: KS1", "I am out of the office until Monday."),
    ("Re: Ticket", "Ich bin bis zum 3.12. nicht im Büro. In dringenden Fällen wenden Sie sich an Frau Maier."),
    ("Frage", "This is an automatic reply. I will be back on 2 December."),
])
def test_out_of_office(subject, body):
    assert auto_reply_reason(facts(subject=subject, body=body)) == "out_of_office"


@pytest.mark.parametrize("subject, body", [
    ("Abwesenheiten in KS1 erfassen", "Wie erfassen wir Urlaub und Abwesenheiten unserer Mitarbeiter in KS1?"),
    ("Fehler", "Ich bin ab morgen im Urlaub, bitte rufen Sie meinen Kollegen wegen des KS1-Fehlers an."),
    ("Question on leave", "How do I enter a holiday in KS1?"),
])
def test_real_requests_mentioning_absence_are_answered(subject, body):
    assert auto_reply_reason(facts(subject=subject, body=body)) is None


# Auto-replies recognisable only by their body or subject (no RFC 3834 headers).
@pytest.mark.parametrize("subject, body", [
    ("Automatische Antwort: KS1 Update", "Guten Tag,\nich befinde mich bis zum 31.03.2027 in Elternzeit. Ihre E-Mail "
     "wird nicht weitergeleitet.\nBitte wenden Sie sich an info@example.de."),
    ("AW: Rechnung", "Liebe Geschäftspartner,\nich bin derzeit im Mutterschutz und anschließend in Elternzeit."),
    ("Re: Lieferadresse", "ich bin heute und morgen auf Baustellenbesuch und lese meine E-Mails erst am Freitag "
     "wieder. In dringenden Fällen bitte Peter Wolf anrufen: 0721 55 66 10."),
    ("Re: Preise", "Danke für Ihre E-Mail. Unser Büro ist bis 15.11. wegen einer Messe nur eingeschränkt besetzt. "
     "Ab Montag sind wir wieder wie gewohnt für Sie da."),
    ("AW: Update", "Hallo,\nich bin derzeit krankheitsbedingt nicht erreichbar. Ihre Nachricht wird nicht gelesen."),
    ("Postfach nicht mehr aktiv: AW: Mehrwertsteuer", "Dieses Postfach wird nicht mehr betreut."),
    ("Automatic reply: invoice", "Hello,\nI'm on parental leave until April and am not checking this mailbox."),
])
def test_out_of_office_by_body_or_subject(subject, body):
    assert auto_reply_reason(facts(subject=subject, body=body)) == "out_of_office"


@pytest.mark.parametrize("subject, body", [
    ("Gelesen: AW: Etiketten drucken", "Ihre Nachricht\n\nAn: Hofmann, Karin\nBetreff: AW: Etiketten drucken\n"
     "wurde am Dienstag, 1. Dezember 2026 10:44:03 (UTC+01:00) gelesen."),
    ("Read: RE: Lot numbers", "Your message\n  To: Priya\nwas read on Wednesday, November 11, 2026 1:31:40 PM."),
    ("Lesebestätigung (angezeigt) - AW: Wareneingang", "Dies ist eine Lesebestätigung für die Nachricht."),
    ("[Ticket#2026112410000123] Eingangsbestätigung: AW: Leitfaden", "Ihre Anfrage ist eingegangen."),
    ("Eingangsbestätigung Ihrer Nachricht", "Vielen Dank, wir haben sie erhalten und melden uns schnellstmöglich."),
    ("Wir haben Ihre Anfrage erhalten: RE: Terminalserver [RSG-IT-8821]", "Ein Mitarbeiter meldet sich."),
])
def test_read_receipts_and_ticket_confirmations(subject, body):
    assert auto_reply_reason(facts(subject=subject, body=body)) == "read_receipt_or_ticket"


@pytest.mark.parametrize("subject, body", [
    ("Update vor den Betriebsferien",
     "Unser Betrieb ist vom 23.12. bis 6.1. in Betriebsferien. Können Sie das Update vorher einspielen?"),
    ("Rückmeldung", "Wir haben Ihre Nachricht gelesen, aber der Fehler in KS1 tritt weiter auf."),
    ("Eingangsbestätigungen in KS1", "Wie drucke ich in KS1 eine Eingangsbestätigung für Lieferanten?"),
    ("Urlaub", "Ich bin ab Montag im Urlaub; bis dahin muss der Rechnungslauf in KS1 wieder gehen. Bitte dringend!"),
])
def test_people_writing_about_absence_or_receipts_are_not_auto_replies(subject, body):
    assert auto_reply_reason(facts(subject=subject, body=body)) is None
