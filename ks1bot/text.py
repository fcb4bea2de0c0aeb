"""Cleaning message text before it is classified."""
from __future__ import annotations

import re
import unicodedata
from typing import Optional

#: Longer texts are cut before classification: the request is at the top, and the
#: models only read the first few hundred tokens anyway.
MAX_CLASSIFY_CHARS = 1200

_REPLY_PREFIX = re.compile(r"^\s*((re|aw|wg|fw|fwd|antw|sv|vs)\s*(\[\d+\])?\s*:\s*)+", re.IGNORECASE)
_SPACE = re.compile(r"\s+")


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


def classification_text(body: str, subject: Optional[str] = None, limit: int = MAX_CLASSIFY_CHARS) -> str:
    """Subject and body on one clean line, cut to `limit` characters."""
    parts = []
    if subject:
        cleaned = strip_reply_prefix(single_line(strip_control(subject)))
        if cleaned:
            parts.append(cleaned)
    parts.append(single_line(strip_control(body)))
    text = " ".join(p for p in parts if p)
    if len(text) > limit:
        cut = text.rfind(" ", 0, limit)
        text = text[: cut if cut > limit // 2 else limit]
    return text
