"""Channel-agnostic text normalisation before classification.

Everything here is pure and idempotent: the Rasa pipeline's first component
(`ks1bot.nlu.cleaner.TextCleaner`) and the routing code (`preparation.prepare`) call the same
`normalize_for_classification`, so a message gets the same classification through the
Rasa server (chat, calls) and through `ks1bot route` or the mail gateway.

What it does: Unicode NFC, control and zero-width characters out, the ways speech
recognisers and customers write KS1 ("k s eins", "ka es eins", "KS 1") as "KS1", a few
other spoken product words ("anfrage shop", "sequel server"), hesitation fillers ("äh",
"ähm", "uh"), stuttered repeats ("der der") and all whitespace on one line, cut to a
length limit.
"""
from __future__ import annotations

import re
import unicodedata
from typing import Optional

#: Longer texts are cut before classification: the request is at the top, and the
#: models only read the first few hundred tokens anyway.
MAX_CLASSIFY_CHARS = 1200

_REPLY_PREFIX = re.compile(
    r"^\s*((re|aw|wg|fw|fwd|antw|antwort|sv|vs|tr|wtr|r|rif|réf)\s*(\[\d+\]|\(\d+\))?\s*:\s*)+", re.IGNORECASE)
_SPACE = re.compile(r"\s+")

#: KS1 as speech recognisers and hurried writers spell it; longest alternatives first.
_KS1_SPOKEN = re.compile(
    r"\b(?:k|ka|kah|kay|kaa)[\s.\-]{0,2}(?:s|es|ess)[\s.\-]{0,2}(?:1|eins|one)\b"
    r"|\b(?:kas|kaes|kaess)[\s.\-]{0,2}(?:1|eins|one)\b",
    re.IGNORECASE,
)
#: Other product and infrastructure words as speech recognisers write them.
_SPOKEN_TERMS = (
    (re.compile(r"\banfrage[\s\-]+shop\b", re.IGNORECASE), "Anfrageshop"),
    (re.compile(r"\bprodukt[\s\-]+daten[\s\-]*bank\b", re.IGNORECASE), "Produktdatenbank"),
    (re.compile(r"\b(?:sequel|sequal|siequel|es[\s\-]?ku[\s\-]?el|s[\s.]q[\s.]l)[\s\-]+server\b", re.IGNORECASE),
     "SQL Server"),
    (re.compile(r"\b(?:vau[\s\-]?pe[\s\-]?en|vi[\s\-]?pi[\s\-]?en|v[\s.]p[\s.]n)\b", re.IGNORECASE), "VPN"),
    (re.compile(r"\bupdate[\s\-]+tul\b", re.IGNORECASE), "Update Tool"),
    (re.compile(r"\bstill[\s\-]+stand\b", re.IGNORECASE), "Stillstand"),
    (re.compile(r"\bdate[\s\-]?fau\b|\bda[\s\-]tev\b", re.IGNORECASE), "DATEV"),
)
#: Hesitation sounds (German and English). "um", "ah" and "em" are left alone: they are
#: also German words ("um 8 Uhr").
_FILLER = re.compile(r"(?<![\w-])(?:ä+h+m*|ö+h+m*|e+h+m+|h+m+|m+h+m+|u+h+m*|e+r+m+)(?![\w-])[,.]?", re.IGNORECASE)
#: The same word twice in a row ("der der", "ich ich"), as calls transcribe stutters.
_REPEAT = re.compile(r"\b(\w+)(\s+\1\b)+", re.IGNORECASE)


def strip_control(text: str) -> str:
    """Drop control and format characters (zero-width, bidi overrides), keep line breaks."""
    text = unicodedata.normalize("NFC", text)
    return "".join(
        ch if ch in "\n\t" or unicodedata.category(ch)[0] != "C" else " "
        for ch in text
    )


def single_line(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


def strip_reply_prefix(subject: str) -> str:
    """'Re: AW: Frage' → 'Frage'."""
    return _REPLY_PREFIX.sub("", subject).strip()


def normalize_spoken(text: str) -> str:
    """KS1 and product words as written, fillers and stutters out (keeps line breaks)."""
    text = _KS1_SPOKEN.sub("KS1", text)
    for pattern, replacement in _SPOKEN_TERMS:
        text = pattern.sub(replacement, text)
    text = _FILLER.sub(" ", text)
    text = _REPEAT.sub(r"\1", text)
    return re.sub(r"[ \t]{2,}", " ", text)


def cut(text: str, limit: int = MAX_CLASSIFY_CHARS) -> str:
    """At most `limit` characters, cut at a word boundary where there is one."""
    if len(text) <= limit:
        return text
    end = text.rfind(" ", 0, limit)
    return text[: end if end > limit // 2 else limit]


def normalize_for_classification(text: str, limit: int = MAX_CLASSIFY_CHARS) -> str:
    """The one-line text the classifier reads (idempotent)."""
    return cut(single_line(normalize_spoken(strip_control(text))), limit)


def classification_text(body: str, subject: Optional[str] = None, limit: int = MAX_CLASSIFY_CHARS) -> str:
    """Subject (without reply prefixes) and body on one clean line, cut to `limit` characters."""
    parts = []
    if subject:
        cleaned = strip_reply_prefix(single_line(strip_control(subject)))
        if cleaned:
            parts.append(cleaned)
    parts.append(body)
    return normalize_for_classification(" ".join(p for p in parts if p), limit)
