from __future__ import annotations

import pytest

from ks1bot.core.settings import MailSettings, Settings
from mail_gateway.loop_protection import MailFacts, OwnMail, auto_reply_reason, own_mail, screen_mail

OWN = OwnMail(("support@ks1-support.example",), ("ks1-support.example", "ks1bot.invalid"), "ks1bot.invalid")


def facts(**kw):
    kw.setdefault("sender", "kunde@example.de")
    kw.setdefault("own", OWN)
    return MailFacts(**kw)


@pytest.mark.parametrize("headers, reason", [
    ((("Auto-Submitted", "auto-replied"),), "auto_submitted"),
    ((("Auto-Submitted", "auto-generated; type=vacation"),), "auto_submitted"),
    ((("Content-Type", "multipart/report; report-type=delivery-status"),), "bounce"),
    ((("Return-Path", "<>"),), "bounce"),
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


# -- machine classes beyond RFC 3834 headers (issue 11): headers first, then text -------------------
@pytest.mark.parametrize("kw, rule", [
    # newsletters without List-Id: a bulk mailer, a bounce-handling envelope, an infomail verdict, a body phrase
    (dict(headers=(("X-Mailer", "Inxmail EE 4.0.2.117"),)), "bulk_mailer"),
    (dict(headers=(("Return-Path", "<bounce-2+baAA@list-server.abc.example>"),)), "mailing_list"),
    (dict(headers=(("Return-Path", "<noreply@bounce.gate.example>"),)), "bulk_mailer"),
    (dict(headers=(("Feedback-ID", "123:campaign:mailer"),)), "bulk_mailer"),
    (dict(headers=(("X-antispameurope-detected-infomail", "yes"),)), "bulk_mailer"),
    (dict(sender='"CYLEX Newsletter" <carina@cylex.example>'), "bulk_mailer"),
    (dict(body="abmelden | Sollte diese E-Mail nicht korrekt dargestellt werden, klicken Sie bitte hier."), "newsletter"),
    (dict(body="Dear customer,\n...\nYou receive this e-mail because you ordered a license. Please click here to "
               "unsubscribe from further e-mails."), "newsletter"),
    (dict(body="Keine weiteren Pressemitteilungen zu den Themen\nSchwimmen & Co? Bitte eine kurze Mail."), "newsletter"),
    # invoice mailers, document output systems
    (dict(subject="Bestellung 4500258840", headers=(("X-Mailer", "SAP NetWeaver 750"),)), "bulk_mailer"),
    # cron and monitoring
    (dict(sender="oracle@db01.example.com", subject="Regelsets im Test-Status gefunden: 1"), "monitoring"),
    (dict(sender="root@srv.example.com", subject="Cron <root@srv> /usr/local/bin/backup"), "monitoring"),
    (dict(subject="** PROBLEM Service Alert: srv01/KS1 SQL is CRITICAL **"), "monitoring"),
    (dict(headers=(("X-Cron-Env", "<SHELL=/bin/sh>"),)), "monitoring"),
    # fax-to-mail
    (dict(sender='"#FAX#*49000783135#"@pbx.example', subject="Erhalten von *49000783135"), "fax"),
    (dict(subject="Fax", body="Sehr geehrter Kunde,\n\nSie haben soeben ein neues Fax von +491234 empfangen."), "fax"),
    (dict(subject="Cisco has received a fax message", part_types=("image/tiff",)), "fax"),
    # ticket systems, calendar replies, feedback reports, challenges, spam verdicts
    (dict(subject="[JIRA] (SYS-422) test", headers=(("X-JIRA-FingerPrint", "978a"),)), "ticket_system"),
    (dict(subject="Antwort Termineinladung: Schulung", calendar_method="REPLY"), "calendar_reply"),
    (dict(subject="Akzeptiert: KS1 Schulung", part_types=("text/plain", "text/calendar")), "calendar_reply"),
    (dict(subject="complaint about message from 192.0.2.222"), "feedback_report"),
    (dict(body="This is an email abuse report for an email message received from IP 192.0.2.1"), "feedback_report"),
    (dict(subject="Please confirm your message",
          body="I am protecting myself from receiving junk mail. Please click the link to have your message delivered."),
     "challenge_response"),
    (dict(subject="***SPAM*** wir gratulieren Ihnen"), "spam_verdict"),
    (dict(headers=(("X-Spam-Flag", "YES"),)), "spam_verdict"),
    # our own domain and addresses
    (dict(sender="KS1 Support <support@ks1-support.example>"), "own_address"),
    # two doubts together (the noreply address may stand in Sender)
    (dict(sender="noreply@tine.example", headers=(("Precedence", "bulk"),)), "doubts:no_reply_sender+precedence_bulk"),
    (dict(sender="Alarm <alarm@tine.example>", headers=(("Sender", "noreply@tine.example"), ("Precedence", "bulk"))),
     "doubts:no_reply_sender+precedence_bulk"),
    # bounces and auto-replies of other mail systems and languages
    (dict(subject="DELIVERY FAILURE: User hans not listed in Domino Directory"), "bounce"),
    (dict(subject="[Automatyczna odpowiedź ] test"), "out_of_office"),
    (dict(subject="Réponse automatique : Commande"), "out_of_office"),
])
def test_machine_classes(kw, rule):
    kw.setdefault("subject", "Info")
    kw.setdefault("body", "Hallo")
    assert screen_mail(facts(**kw)).machine == rule


@pytest.mark.parametrize("kw, doubt", [
    # RFC 3834 allows either: a person may write from postmaster@ or noreply@ — to staff, never answered
    (dict(sender="postmaster@kunde.example"), "no_reply_sender"),
    (dict(sender="noreply@rubyforge.example"), "no_reply_sender"),
    (dict(sender="Forum <relay@forum.example>", headers=(("Reply-To", "do-not-reply@forum.example"),)), "no_reply_sender"),
    # a colleague (our own domain, not the bot's address): no automatic reply, staff see it
    (dict(sender="Vertrieb <vertrieb@ks1-support.example>"), "own_domain"),
    (dict(sender="x@mail.ks1-support.example"), "own_domain"),
    # Precedence: bulk on a person's mail (added by a forwarding service)
    (dict(headers=(("Precedence", "bulk"),)), "precedence_bulk"),
    (dict(has_from=False), "missing_from"),
    (dict(sender="anonymous@webhost.example"), "anonymous_sender"),
    (dict(headers=(("To", "Undisclosed-Recipients:;"),)), "undisclosed_recipients"),
    (dict(body='<?xml version="1.0"?><adf><prospect/></adf>'), "data_only_body"),
])
def test_doubts_go_to_staff_without_a_reply(kw, doubt):
    kw.setdefault("subject", "KS1 Frage")
    kw.setdefault("body", "Wie buche ich eine Gutschrift in KS1?")
    screening = screen_mail(facts(**kw))
    assert screening.machine is None and screening.doubts == (doubt,)


@pytest.mark.parametrize("subject, body", [
    # people writing about newsletters, invoices, faxes, calendars, spam — with the words machines use
    ("Newsletter", "Wie kann ich den KS1-Newsletter abbestellen? Ich bekomme ihn doppelt."),
    ("Unsubscribe", "Please unsubscribe me from the KS1 release mails, how do I do that?"),
    ("Rechnung Nr. 2026-118", "Guten Tag, in KS1 wird die Rechnung Nr. 2026-118 ohne Mehrwertsteuer gedruckt."),
    ("Fax aus KS1", "Wie kann ich aus KS1 heraus ein Fax an einen Lieferanten senden?"),
    ("Termin", "Können wir die KS1-Schulung auf Dienstag verschieben? Die Einladung habe ich angenommen."),
    ("Spam", "Unsere Mails aus KS1 landen beim Kunden im Spam-Ordner. Was können wir tun?"),
    ("Cron", "Der Cronjob für den KS1-Export läuft nicht mehr, seit wir das Update eingespielt haben."),
    ("WG: Newsletter Mai", "Hallo, siehe unten - stimmt der Preis im Newsletter?\n\n-----Ursprüngliche Nachricht-----\n"
                           "Von: news@ks1.example\nBetreff: Newsletter Mai\n\nSollte diese E-Mail nicht korrekt "
                           "dargestellt werden, klicken Sie bitte hier."),
])
def test_people_using_machine_words_are_not_machine_mail(subject, body):
    screening = screen_mail(facts(subject=subject, body=body, sender="Hans Meier <h.meier@musterhandel.example>"))
    assert screening.machine is None and screening.doubts == ()


def test_own_domains_are_derived_once_from_the_settings():
    settings = Settings(our_addresses=("support@ks1-support.example", "help@ks1.example"),
                        message_id_domain="ks1bot.invalid", mail=MailSettings(from_address="bot@mail.ks1.example"))
    own = own_mail(settings)
    assert own.addresses == ("support@ks1-support.example", "help@ks1.example", "bot@mail.ks1.example")
    assert own.domains == ("ks1-support.example", "ks1.example", "mail.ks1.example", "ks1bot.invalid")
