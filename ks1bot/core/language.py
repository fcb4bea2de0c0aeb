"""German or English? Lingua restricted to the two languages the bot speaks, with a
word list for the very short messages statistics get wrong ("Hallo", "Moin", "Danke")."""
from __future__ import annotations

import re
from functools import lru_cache

from lingua import Language, LanguageDetectorBuilder

_GERMAN_WORDS = frozenset(
    "hallo moin servus grüß grüezi gott danke dankeschön vielen bitte ja nein und ich wir sie der die das "
    "nicht ist mit für guten tag morgen abend tschüss äh ähm also genau gruß grüße hier unser unsere kann "
    "können wie was wo wann warum bei beim auf zum zur ein eine einen kein keine noch mal schon".split()
)
_ENGLISH_WORDS = frozenset(
    "hello hey thanks thank you please yes the and is we i are with for good morning evening cheers uh um "
    "this our can could how what where when why at on to a an no not any still already my me".split()
)
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
#: Lingua must be at least this sure before a message counts as English (German first).
ENGLISH_MIN_CONFIDENCE = 0.6


@lru_cache(maxsize=1)
def _detector():
    return (
        LanguageDetectorBuilder.from_languages(Language.GERMAN, Language.ENGLISH)
        .with_preloaded_language_models()
        .build()
    )


def detect_language(text: str, default: str = "de") -> str:
    """'de' or 'en'; `default` when the text gives no clue (empty, digits, emoji)."""
    words = [w.lower() for w in _WORD.findall(text[:1000])]
    if not words:
        return default
    german = sum(w in _GERMAN_WORDS or any(c in w for c in "äöüß") for w in words)
    english = sum(w in _ENGLISH_WORDS for w in words)
    if len(words) <= 4 and german != english:
        return "de" if german > english else "en"
    values = {v.language: v.value for v in _detector().compute_language_confidence_values(text[:1000])}
    english_confidence = values.get(Language.ENGLISH, 0.0)
    if english_confidence >= ENGLISH_MIN_CONFIDENCE:
        return "en"
    if values.get(Language.GERMAN, 0.0) >= 1 - ENGLISH_MIN_CONFIDENCE:
        return "de"
    return default
