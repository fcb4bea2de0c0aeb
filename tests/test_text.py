from __future__ import annotations

import pytest

from ks1bot.core.email_text import latest_reply
from ks1bot.core.language import detect_language
from ks1bot.core.text import classification_text, strip_reply_prefix


def test_outlook_german_history_and_signature_are_removed():
    body = (
        "Hallo,\nseit heute stürzt KS1 beim Buchen ab.\n\nMit freundlichen Grüßen\nHans Meier\nMeier Bau GmbH\n"
        "Tel. 0231 12233\n\n-----Ursprüngliche Nachricht-----\nVon: Support <support@x.de>\n"
        "Gesendet: Montag, 16. November 2026 10:00\nAn: Hans\nBetreff: Re: Test\n\nDas Update ist da."
    )
    text = latest_reply(body)
    assert "stürzt KS1 beim Buchen ab" in text
    assert "Update ist da" not in text
    assert "Tel." not in text


@pytest.mark.parametrize("body", [
    "Hallo,\nKS1 zeigt Fehler 17.\n\nAm 16.11.2026 um 10:00 schrieb Support <s@x.de>:\n> alter Text\n> noch mehr",
    "Hello,\nKS1 shows error 17.\nJohn\n\nOn Mon, 16 Nov 2026 at 10:00, Support <s@x.de> wrote:\n> old text",
    "KS1 zeigt Fehler 17.\n\nVon: Support <s@x.de>\nGesendet: Montag, 16. November 2026\nBetreff: AW: x\n\nalter Text",
    "KS1 zeigt Fehler 17.\n> zitierter alter Text\n> noch mehr",
    "KS1 zeigt Fehler 17.\n-- \nHans Meier\nMeier Bau",
])
def test_history_formats(body):
    text = latest_reply(body)
    assert "Fehler 17" in text or "error 17" in text
    assert "alter Text" not in text and "old text" not in text and "Meier Bau" not in text


def test_a_mail_that_is_only_a_quote_keeps_its_text():
    assert latest_reply("> nur ein Zitat") == "nur ein Zitat"


def test_classification_text_is_one_clean_line():
    text = classification_text("Zeile 1\r\n\tZeile 2\u200b\x00 Ende", subject="AW: Re: Frage")
    assert text == "Frage Zeile 1 Zeile 2 Ende"
    long = classification_text("wort " * 5000)
    assert len(long) <= 1200


def test_strip_reply_prefix():
    assert strip_reply_prefix("Re: AW: WG: Fwd: Frage") == "Frage"
    assert strip_reply_prefix("Reparatur") == "Reparatur"


@pytest.mark.parametrize("text, language", [
    ("Hallo", "de"), ("Guten Tag!", "de"), ("Danke, passt so.", "de"), ("Moin", "de"),
    ("Can you help us move our servers from Hyper-V to VMware?", "en"),
    ("hello this is john from brightparts uh i would like someone to call me back", "en"),
    ("ja äh ich hätte eine frage wie bekommen wir die updates für ks1", "de"),
    ("What are your support hours?", "en"), ("Thanks!", "en"),
    ("😀😀😀", "de"), ("12345", "de"), ("", "de"),
])
def test_language(text, language):
    assert detect_language(text) == language
