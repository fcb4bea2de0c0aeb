"""A German stemmer: the Snowball German algorithm (snowballstem.org/algorithms/german),
small and pure, for the console's search on SQLite (PostgreSQL has its own `german`
configuration). "Rechnungen", "Rechnung" → "rechnung"; "Häuser" → "haus".

Not a package dependency: snowballstemmer is not in Rasa's resolved set, and this is the
one algorithm we need."""
from __future__ import annotations

import re
from typing import List

VOWELS = "aeiouyäöü"
S_ENDING = "bdfghklmnrt"
ST_ENDING = "bdfghklmnt"
WORD = re.compile(r"[0-9A-Za-zÀ-ÖØ-öø-ÿß]+")


def _regions(word: str) -> "tuple[int, int]":
    def after_vc(start: int) -> int:
        for i in range(start + 1, len(word)):
            if word[i] not in VOWELS and word[i - 1] in VOWELS:
                return i + 1
        return len(word)

    r1 = after_vc(0)
    r2 = after_vc(r1)
    return max(r1, 3), r2


def stem(word: str) -> str:
    word = word.lower().replace("ß", "ss")
    # u and y between vowels are consonants
    chars = list(word)
    for i in range(1, len(chars) - 1):
        if chars[i] in "uy" and chars[i - 1] in VOWELS and chars[i + 1] in VOWELS:
            chars[i] = chars[i].upper()
    word = "".join(chars)
    r1, r2 = _regions(word)

    # step 1
    for suffix in ("ern", "em", "er"):
        if word.endswith(suffix):
            if len(word) - len(suffix) >= r1:
                word = word[: -len(suffix)]
            break
    else:
        for suffix in ("en", "es", "e"):
            if word.endswith(suffix):
                if len(word) - len(suffix) >= r1:
                    word = word[: -len(suffix)]
                    if word.endswith("niss"):
                        word = word[:-1]
                break
        else:
            if word.endswith("s") and len(word) - 1 >= r1 and len(word) > 1 and word[-2] in S_ENDING:
                word = word[:-1]
    # step 2
    for suffix in ("est", "en", "er"):
        if word.endswith(suffix):
            if len(word) - len(suffix) >= r1:
                word = word[: -len(suffix)]
            break
    else:
        if word.endswith("st") and len(word) - 2 >= r1 and len(word) >= 6 and word[-3] in ST_ENDING:
            word = word[:-2]
    # step 3: d-suffixes
    def in_r2(suffix: str) -> bool:
        return len(word) - len(suffix) >= r2

    for suffix in ("isch", "lich", "heit", "keit", "end", "ung", "ig", "ik"):
        if not word.endswith(suffix):
            continue
        if suffix in ("end", "ung"):
            if in_r2(suffix):
                word = word[: -len(suffix)]
                if word.endswith("ig") and len(word) - 2 >= r2 and not word.endswith("eig"):
                    word = word[:-2]
        elif suffix in ("ig", "ik", "isch"):
            if in_r2(suffix) and not word[: -len(suffix)].endswith("e"):
                word = word[: -len(suffix)]
        elif suffix in ("lich", "heit"):
            if in_r2(suffix):
                word = word[: -len(suffix)]
                for pre in ("er", "en"):
                    if word.endswith(pre) and len(word) - 2 >= r1:
                        word = word[:-2]
                        break
        elif suffix == "keit":
            if in_r2(suffix):
                word = word[: -len(suffix)]
                for pre in ("lich", "ig"):
                    if word.endswith(pre) and len(word) - len(pre) >= r2:
                        word = word[: -len(pre)]
                        break
        break
    return word.lower().replace("ä", "a").replace("ö", "o").replace("ü", "u")


def stems(text: str) -> List[str]:
    """The stems of a text's words, in order, without repeats."""
    return list(dict.fromkeys(stem(w) for w in WORD.findall(text or "") if w))
