from __future__ import annotations

import pytest

from ks1bot.loop_protection import MailFacts, auto_reply_reason

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
