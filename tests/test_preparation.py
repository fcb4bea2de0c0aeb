"""The text-preparation stage (ks1bot/core/preparation.py, email_text.py, request_split.py,
text.py) on realistic mails: one test per shape real traffic has."""
from __future__ import annotations

import datetime as dt

import pytest

from ks1bot.core.email_text import latest_reply, read_body
from ks1bot.core.messages import InboundMessage
from ks1bot.core.preparation import prepare, subject_kind
from ks1bot.core.request_split import split_requests
from ks1bot.core.text import normalize_for_classification

NOW = dt.datetime(2026, 11, 17, 10, 0, tzinfo=dt.timezone.utc)


def email(text: str, subject: str = "") -> InboundMessage:
    return InboundMessage(id="m1", channel="email", received_at=NOW, sender="a@b.de", text=text, subject=subject)


# -- reply subjects ----------------------------------------------------------------------
def test_reply_subject_does_not_decide_a_thanks():
    """Our firewall exclusion answered with "ok, danke": the old subject must not come back."""
    prepared = prepare(email("ok, danke\n\nGruß Peter\n\n-----Ursprüngliche Nachricht-----\nVon: KS1 Support "
                             "<support@ks1-support.example>\nGesendet: Montag, 16. November 2026 10:00\nAn: Peter\n"
                             "Betreff: Firewall-Freigabe für KS1\n\nIhre Anfrage betrifft Ihr Netzwerk …",
                             subject="AW: Firewall-Freigabe für KS1"))
    assert prepared.text == "ok, danke"
    assert "reply_subject_ignored" in prepared.steps


def test_new_error_under_an_old_form_subject_is_read_without_the_subject():
    prepared = prepare(email("Hallo,\nseit heute bricht der Rechnungsdruck in KS1 mit Fehler 4711 ab.\n\nLG Anna",
                             subject="Re: AW: Änderung Lieferscheinformular"))
    assert "Lieferscheinformular" not in prepared.text
    assert prepared.text == "seit heute bricht der Rechnungsdruck in KS1 mit Fehler 4711 ab."


def test_subject_of_a_new_mail_counts():
    assert prepare(email("wie geht das?", subject="Update einspielen")).text == "Update einspielen wie geht das?"


@pytest.mark.parametrize("subject, kind", [
    ("AW: Frage", "reply"), ("RE: question", "reply"), ("Antw: x", "reply"), ("[EXTERN] AW: x", "reply"),
    ("WG: Fehler", "forward"), ("Fwd: x", "forward"), ("FW: x", "forward"), ("Update einspielen", "new"),
    ("Reparatur Drucker", "new"),
])
def test_subject_kind(subject, kind):
    assert subject_kind(subject) == kind


# -- forwards ----------------------------------------------------------------------------
FORWARD_BODIES = [
    # Gmail / Thunderbird
    "Hallo Support,\nsiehe unten, bitte um Rückmeldung.\n\nGruß K. Vogel\n\n---------- Weitergeleitete Nachricht "
    "----------\nVon: Lager Halle 2 <lager@vogel.de>\nDatum: Di., 17. Nov. 2026 um 07:02\nBetreff: Störung Lager\n"
    "An: <k.vogel@vogel.de>\n\nKS1 hängt bei jeder Buchung im Wareneingang, seit 8 Uhr geht nichts mehr.\n",
    # Outlook
    "FYI\n\nVon: Lager Halle 2 <lager@vogel.de>\nGesendet: Dienstag, 17. November 2026 07:02\nAn: Vogel, Klaus\n"
    "Betreff: Störung Lager\n\nKS1 hängt bei jeder Buchung im Wareneingang, seit 8 Uhr geht nichts mehr.\n\nGruß Lager",
    # Apple Mail
    "Bitte kümmern, danke!\n\nVon meinem iPhone gesendet\n\nAnfang der weitergeleiteten Nachricht:\n\n"
    "Von: Lager Halle 2 <lager@vogel.de>\nDatum: 17. November 2026 um 07:02:11 MEZ\nAn: Klaus Vogel "
    "<k.vogel@vogel.de>\nBetreff: Störung Lager\n\nKS1 hängt bei jeder Buchung im Wareneingang, seit 8 Uhr geht "
    "nichts mehr.",
    # English client
    "see below\n\n-------- Original Message --------\nSubject: Störung Lager\nDate: Tue, 17 Nov 2026 07:02:11 +0100"
    "\nFrom: Lager Halle 2 <lager@vogel.de>\nTo: Klaus Vogel <k.vogel@vogel.de>\n\nKS1 hängt bei jeder Buchung im "
    "Wareneingang, seit 8 Uhr geht nichts mehr.",
]


@pytest.mark.parametrize("body", FORWARD_BODIES)
def test_a_forward_with_only_a_note_is_read_by_the_forwarded_request(body):
    prepared = prepare(email(body, subject="WG: Störung Lager"))
    assert "KS1 hängt bei jeder Buchung im Wareneingang" in prepared.text
    assert "forwarded_request" in prepared.steps


def test_a_forward_with_a_request_of_its_own_is_read_by_that_request():
    body = ("Hallo, wir haben das gleiche Problem wie unsere Filiale unten, aber bei uns betrifft es zusätzlich den "
            "Rechnungsdruck, der seit dem Update auf allen Rechnern mit einem Fehler abbricht. Bitte prüfen Sie "
            "beides und melden Sie sich bei mir.\n\n---------- Forwarded message ---------\nFrom: Filiale\n"
            "Subject: Druck\n\nEtiketten drucken leer.")
    read = read_body(body)
    assert not read.only_forwards
    assert "Rechnungsdruck" in latest_reply(body)


# -- quoted history ----------------------------------------------------------------------
HISTORY_BODIES = [
    # Outlook with Reply-To and Cc between From and Sent
    "Die Rechnungen zeigen falsche Summen.\n\nFrom: KS1 Support <s@x.de>\nReply-To: s@x.de\nCc: m@y.de\n"
    "Sent: Monday, November 16, 2026 10:00 AM\nTo: Hans\nSubject: RE: Firewall\n\nAltes Thema Firewall",
    # Gmail attribution split over two lines
    "Die Rechnungen zeigen falsche Summen.\n\nAm Mo., 16. Nov. 2026 um 10:12 Uhr schrieb KS1 Support <\n"
    "support@ks1-support.example>:\n\n> Altes Thema Firewall",
    # | quotes
    "Die Rechnungen zeigen falsche Summen.\n\n| Altes Thema Firewall\n| noch mehr altes Thema",
    # Lotus Notes one-line header block (HTML table turned into text)
    "Die Rechnungen zeigen falsche Summen.\n\nVon: KS1 Support/OSS An: Hans Meier/MeierBau@MeierBau Datum: "
    "16.11.2026 10:00 Betreff: Firewall\n\nAltes Thema Firewall",
    # Lotus Notes block over lines
    "Die Rechnungen zeigen falsche Summen.\n\nVon:\tKS1 Support/OSS\nAn:\tHans Meier/MeierBau@MeierBau\n"
    "Datum:\t16.11.2026 10:00\nBetreff:\tFirewall\n\nAltes Thema Firewall",
    # English attribution
    "Die Rechnungen zeigen falsche Summen.\n\nOn Mon, 16 Nov 2026 at 10:12, KS1 Support <s@x.de> wrote:\n"
    "> Altes Thema Firewall",
]


@pytest.mark.parametrize("body", HISTORY_BODIES)
def test_quoted_history_does_not_reach_the_classifier(body):
    text = prepare(email(body, subject="AW: Firewall")).text
    assert text == "Die Rechnungen zeigen falsche Summen."


# -- signatures, footers, closings -------------------------------------------------------
def test_german_footer_and_signature_are_removed():
    body = ("Guten Tag Frau Schneider,\n\nKS1 stürzt beim Buchen eines Lieferscheins ab.\n\nMit freundlichen Grüßen\n"
            "i. A. Sabine Krause\nBuchhaltung\n\nKrause Metallbau GmbH\nIndustriestraße 8 | 68219 Mannheim\n"
            "T 0621 44321-14 | M 0171 2233445\nGeschäftsführer: Klaus Krause · Amtsgericht Mannheim HRB 123456 · "
            "USt-IdNr. DE123456789\n\nDiese E-Mail enthält vertrauliche Informationen. Wenn Sie nicht der richtige "
            "Adressat sind, informieren Sie bitte sofort den Absender.")
    assert latest_reply(body) == "KS1 stürzt beim Buchen eines Lieferscheins ab."


@pytest.mark.parametrize("closing", [
    "Servus\nHans", "LG Markus", "Freundliche Grüsse\nReto Keller", "Merci vielmals", "Von meinem iPhone gesendet",
    "Beste Grüße aus Linz", "Kind regards,\nJames Whitfield\nOperations Manager", "Gesendet von Outlook für Android",
    "Danke und LG\nSabine", "Grüessli\nUrs",
])
def test_closings_and_mobile_signatures_are_removed(closing):
    body = f"Hallo,\nwie spiele ich das neue KS1-Update ein?\n\n{closing}"
    assert latest_reply(body) == "wie spiele ich das neue KS1-Update ein?"


def test_a_thanks_mail_stays_a_thanks():
    assert latest_reply("Hallo Frau Meier,\n\nvielen Dank, das hat funktioniert!\n\nViele Grüße\nPeter") == \
        "vielen Dank, das hat funktioniert!"
    assert latest_reply("Danke!") == "Danke!"


def test_signature_block_without_closing_is_removed():
    body = "Danke, passt so!\n\nJens Krause\nTechnischer Leiter\nWolf Haustechnik GmbH & Co. KG\n" \
           "Industriestraße 8 | 68219 Mannheim\nT 0621 44321-14 | M 0171 2233445"
    assert latest_reply(body) == "Danke, passt so!"


def test_a_last_line_with_content_is_kept():
    assert latest_reply("KS1 Fehler\nBitte Rückruf\nLager steht") == "KS1 Fehler\nBitte Rückruf\nLager steht"
    assert latest_reply("Hallo KS1 stürzt dauernd ab") == "Hallo KS1 stürzt dauernd ab"


# -- calls -------------------------------------------------------------------------------
@pytest.mark.parametrize("spoken", ["k s eins", "ka es eins", "kas eins", "KS 1", "ks-1", "k. s. eins", "kay ess one"])
def test_ks1_spoken_forms(spoken):
    assert normalize_for_classification(f"also {spoken} stürzt ab") == "also KS1 stürzt ab"


def test_fillers_and_stutters_are_removed_and_normalising_is_idempotent():
    text = "ja äh hallo ähm der der anfrage shop zeigt äh fehler und der sequel server läuft"
    once = normalize_for_classification(text)
    assert once == "ja hallo der Anfrageshop zeigt fehler und der SQL Server läuft"
    assert normalize_for_classification(once) == once


# -- several requests --------------------------------------------------------------------
def test_numbered_requests_are_split():
    parts = split_requests("Hallo,\nzwei Fragen:\n1. Wo finde ich die Checkliste für den Produktivstart?\n"
                           "2. Könnt ihr auch unseren neuen Etikettendrucker einrichten?\nDanke")
    assert len(parts) == 2
    assert "Checkliste" in parts[0] and "Etikettendrucker" in parts[1]


@pytest.mark.parametrize("text", [
    "KS1 stürzt beim Buchen ab. Außerdem spinnt unser VPN seit gestern.",
    "Wie spiele ich das Update ein? PS: Unser Drucker im Lager druckt nur leere Seiten.",
    "ja hallo bei uns stürzt ks1 beim buchen ab und dann hätte ich noch eine frage wie kommen wir an das update",
    "Danke für das Angebot, wir melden uns im Frühjahr. Kurze andere Frage: bis wann ist Ihre Hotline besetzt?",
    "ich hab zwei sachen einmal wie lang seid ihr am freitag da und dann das zweite wir bräuchten eine schulung",
    "how do I reprint a delivery note from last week? also outlook keeps asking for my password",
])
def test_request_markers_split(text):
    assert len(split_requests(text)) == 2


@pytest.mark.parametrize("text", [
    "Unser Drucker druckt nicht. Bitte helfen.",
    "- Rechnung 123\n- Rechnung 456\nbeide falsch",
    "Geht das? Und zwar meine ich den Export.",
    "Wie sichern wir die Datenbank vor dem Umzug? Und welche Rechte braucht der Dienst?",
    "Wie geht das genau? Also ich meine den Export der Rechnungen nach DATEV.",
    "KS1 stürzt ab, wenn ich im Kundenstamm auf Speichern klicke.",
])
def test_one_request_stays_whole(text):
    assert split_requests(text) == [text]


def test_prepare_gives_parts_on_one_line_each():
    prepared = prepare(email("1. Wo finde ich die Checkliste für den Produktivstart?\n2. Könnt ihr auch unseren "
                             "neuen Etikettendrucker einrichten?", subject="Zwei Fragen"))
    assert prepared.several_requests
    assert all("\n" not in part for part in prepared.parts)
    assert prepared.text.startswith("Zwei Fragen")


def test_one_line_numbered_requests_and_aber_are_split():
    parts = split_requests("Servus! 1. wie leg ich im KS1 einen neuen benutzer an 2. und wie kann ich sein windows "
                           "passwort zurücksetzen, er hat es vergessen")
    assert len(parts) == 2 and "windows" in parts[1]
    parts = split_requests("Das mit dem VMware-Host klären wir selbst, passt. Aber seit der Migration kommt beim "
                           "Tagesabschluss in der Kasse Fehler 3021.")
    assert len(parts) == 2 and parts[1].startswith("Aber")
    assert split_requests("Wir haben 2 Lager und 3 Kassen. Der Bestand ist falsch.") == [
        "Wir haben 2 Lager und 3 Kassen. Der Bestand ist falsch."]


def test_announced_questions_are_split_at_question_marks():
    parts = split_requests("hallo, 2 fragen: wie storniere ich eine rechnung die schon gedruckt ist? und gibts bei "
                           "euch eine schulung für die neue kollegin")
    assert len(parts) == 2 and "schulung" in parts[1]


def test_a_forward_keeps_the_forwarders_subject():
    body = ("FYI\n\n---------- Weitergeleitete Nachricht ----------\nVon: Kunde <k@x.de>\nBetreff: Auftragsbestätigung "
            "26-5012\n\nAuf Ihrer Auftragsbestätigung sind alle 40 Paletten zum Einzelpreis berechnet.")
    text = prepare(email(body, subject="WG: Staffelpreise greifen nicht")).text
    assert text.startswith("Staffelpreise greifen nicht Auftragsbestätigung 26-5012")


# -- classes found on the real-mail corpus (tests/mail/corpus, docs/benchmarks.md) ------------
def test_a_reply_below_the_quote_is_read_below_it():
    # Thunderbird bottom-posting: attribution, the whole quote, then the new text
    body = ("Am 07.05.2012 08:10, schrieb KS1 Support:\n> Hallo Herr Meier,\n>\n> welche Termine passen Ihnen?\n>\n"
            "> Gruß\n> KS1 Support\nHallo,\n\nam Freitag um 10 Uhr passt es uns, bitte rufen Sie dann an.\n\nGrüße aus Bonn")
    assert latest_reply(body) == "am Freitag um 10 Uhr passt es uns, bitte rufen Sie dann an."


def test_a_webmail_header_block_may_start_with_its_date():
    # web.de / GMX: "Gesendet:" before "Von:"
    body = ("Bitte prüfen, der Export bricht ab.\n\nGesendet: Mittwoch, 03. Februar 2016 um 12:43 Uhr\n"
            "Von: \"Lager\" <lager@x.de>\nAn: kunde@x.de\nBetreff: Export\n\nAlter Text zum Drucker")
    assert latest_reply(body) == "Bitte prüfen, der Export bricht ab."


def test_a_bare_rule_is_history_only_above_a_header_block():
    form = ("*Formular-Weiterleitungs-Service*\n-------------------------\n\nName: Meier\n\nArtikel: KS1-Schulung\n\n"
            "Nachricht: Wann ist die nächste KS1-Schulung?\n\n-------------------\n212.6.123.204")
    assert "Wann ist die nächste KS1-Schulung?" in latest_reply(form) and "212.6.123.204" not in latest_reply(form)
    quoted = "Ja, bitte so umsetzen.\n\n   _____\n\nFrom: KS1 Support\nSent: Monday\nTo: Hans\nSubject: Frage\n\nAlter Text"
    assert latest_reply(quoted) == "Ja, bitte so umsetzen."
    footer = ("Bitte um Rückruf zu KS1.\n-------------------------------\nNiniejsza wiadomość elektroniczna może "
              "zawierać poufne informacje.")
    assert latest_reply(footer) == "Bitte um Rückruf zu KS1."


@pytest.mark.parametrize("attribution", [
    "02.04.2012 14:20 пользователь \"bob@example.org\" <\nbob@example.org> написал:",
    "W dniu 02.04.2012 14:20 Bob <bob@example.org> napisał:",
    "Den 2 apr. 2012 kl. 14:20 skrev Bob <\nbob@example.org>:",
])
def test_gmail_attributions_in_other_languages_and_over_two_lines(attribution):
    body = f"Der Fehler kommt wieder.\n\n{attribution}\n\n> Alter Text"
    assert latest_reply(body) == "Der Fehler kommt wieder."


@pytest.mark.parametrize("sign_off", ["-Martin", "  -Martin", "~Danielle", "– Peter Maier"])
def test_a_name_signed_off_with_a_dash_or_tilde_goes(sign_off):
    assert latest_reply(f"KS1 stürzt beim Buchen ab\n\n{sign_off}") == "KS1 stürzt beim Buchen ab"


@pytest.mark.parametrize("closing", ["Mit freundlichem Gruß\nHans Meier", "Cordialement,\n[XXXX]",
                                     "Met vriendelijke groeten,\nJan", "Saludos cordiales"])
def test_closings_after_one_word_and_in_other_languages(closing):
    assert latest_reply(f"Gravierend?\n\n{closing}") == "Gravierend?"


def test_outlook_rule_forwards_and_forwards_inside_forwards_lead_to_the_request():
    body = ("-------------------------------------------\nFrom: Kevin\nSent: Tuesday, March 15, 2011 12:59 PM\n"
            "To: Systems\nSubject: FW: Zugang\nAuto forwarded by a Rule\n\n   _____\n\nFrom: Kevin\n"
            "Sent: Tuesday, March 15, 2011 1:58 PM\nTo: Systems\nSubject: FW: Zugang\n\nFYI\n\n   _____\n\n"
            "From: Benjamin\nSent: Tuesday, March 15, 2011 1:38 PM\nTo: Kevin\nSubject: Zugang\n\n"
            "Bitte legen Sie für Byron einen KS1-Zugang an.\n")
    assert latest_reply(body) == "Bitte legen Sie für Byron einen KS1-Zugang an."


def test_a_mail_attached_to_a_message_is_the_request_only_when_the_message_points_at_it():
    def attached(note):
        return (f"{note}\n\n---------- Attached message ----------\nFrom: Lager <l@x.de>\nSubject: Störung\n\n"
                "KS1 hängt bei jeder Buchung im Wareneingang.")
    assert latest_reply(attached("Check the forwarded message")) == "KS1 hängt bei jeder Buchung im Wareneingang."
    assert latest_reply(attached("")) == "KS1 hängt bei jeder Buchung im Wareneingang."
    # a message of its own with a mail attached: the message is the request
    assert latest_reply(attached("Das Problem haben wir seit dem Update auch in der Filiale Nord.")) == \
        "Das Problem haben wir seit dem Update auch in der Filiale Nord."


def test_outlook_image_placeholders_and_signature_only_notes_go():
    body = ("-- \ndon't cry - work!\n\nGesendet: Mittwoch, 03. Februar 2016 um 12:43 Uhr\nVon: Anna <a@x.de>\n"
            "An: b@x.de\nBetreff: Zugang\n\nWie richte ich in KS1 einen neuen Benutzer ein?")
    assert latest_reply(body) == "Wie richte ich in KS1 einen neuen Benutzer ein?"
    assert "[cid:" not in latest_reply("Siehe Fehler:\n[cid:image001.png@01D8A2B3.4C5D6E70]\nKS1 stürzt ab.")
