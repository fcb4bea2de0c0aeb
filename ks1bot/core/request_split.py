"""Several requests in one message: where one ends and the next begins.

"1. Wo finde ich die Checkliste für den Produktivstart? 2. Könnt ihr auch unseren neuen
Etikettendrucker einrichten?" holds two requests, and the support terms treat them
differently. `split_requests` cuts a message at numbered or bulleted items and at the
phrases people use to start another request ("Außerdem …", "Noch eine Frage: …",
"PS: …", "Also, …", in calls "und dann hätte ich noch eine frage …"). It errs towards
not splitting: routing looks at the whole message as well as at each part, and a part too
short to say anything decides nothing (routing.py).
"""
from __future__ import annotations

import re
from typing import List, Sequence

#: A numbered or bulleted item at the start of a line.
_ITEM = re.compile(
    r"^\s*(?:\(?\d{1,2}[.):]|\(?[a-eA-E][.)]|[-*•–·▪►]|(?i:erstens|zweitens|drittens|viertens|first(?:ly)?|"
    r"second(?:ly)?|third(?:ly)?|punkt \d|frage \d|thema \d)\s*[:.,)-]?)\s+\S"
)
#: Words that open another request (at the start of a sentence or line).
_NEXT_REQUEST = re.compile(
    r"(?:(?<=[.!?:;])|(?<=\n)|^)\s*(?:"
    r"(?:außerdem|ausserdem|zudem|des weiteren|desweiteren|darüber hinaus|weiters|zusätzlich|"
    r"(?:noch )?(?:eine |ne )?(?:kurze |kleine )(?:andere |weitere |zweite )?(?:frage|sache|bitte)\b|"
    r"noch eine (?:frage|sache|bitte|kleinigkeit)|eine (?:weitere|andere|zweite) (?:frage|sache|bitte)|"
    r"(?:und )?noch (?:was|etwas)(?: anderes)?\b|andere frage|zweite frage|zweitens|"
    r"übrigens|apropos|ganz anderes thema|anderes thema|ps\b|p\.\s?s\.|nachtrag\b|aber\b(?!\s+(?:auch|nur|trotzdem))|"
    r"by the way|btw\b|additionally|furthermore|another (?:question|thing|issue)|one more (?:thing|question)|"
    r"separately|on another note|on a different note|secondly|second question|unrelated,|"
    r"(?:und )?dann (?:hätte ich |hab ich |habe ich )?noch (?:eine frage|was|etwas|ne frage)|"
    r"und (?:eine|ne) (?:andere|zweite) (?:frage|sache)|ach ja\b|ach und\b)"
    r")",
    re.IGNORECASE,
)
#: Unambiguous openers of another request anywhere in a sentence, as calls have no
#: punctuation ("… stürzt ab und dann hätte ich noch eine frage zum update …").
_NEXT_REQUEST_SPOKEN = re.compile(
    r"(?<=\s)(?:"
    r"(?:und )?(?:dann |außerdem |ausserdem |zusätzlich )?(?:hätte ich |hab ich |habe ich |hätt ich )?noch "
    r"(?:eine|ne|n) (?:andere |zweite |weitere )?(?:frage|sache|bitte)\b"
    r"|(?:und )?(?:eine|ne) (?:andere|zweite|weitere) (?:frage|sache)\b"
    r"|und außerdem\b|und ausserdem\b|und zusätzlich\b|(?:und )?noch was anderes\b|ganz anderes thema\b"
    r"|(?:und )?(?:zweitens|drittens|secondly|thirdly)\b"
    r"|(?:und )?(?:dann )?(?:das zweite|die zweite sache|zum zweiten|the second thing|second thing)\b"
    r"|und dann noch\b(?! (?:eine?|einen|kommt|kam|die|der|das) (?:fehler|meldung))"
    r"|and (?:also|another thing|one more thing)\b|(?:and )?one more (?:thing|question)\b|another question\b"
    r"|(?:and )?(?:i )?also (?:wanted|want|need|have) (?:to ask|a question)\b"
    r")",
    re.IGNORECASE,
)
#: English "also" starting a sentence opens another request; German "Also, …" does not.
_ENGLISH_ALSO = re.compile(r"(?<=[.!?])\s+(?=also\b(?!,))", re.IGNORECASE)
_ENGLISH_WORDS = frozenset("the a an and is are i we you my our to of in on for with it this that how what "
                           "can could do does please thanks any".split())
_GERMAN_WORDS = frozenset("der die das und ist sind ich wir sie mein unser zu von im in auf für mit es wie was "
                          "kann können bitte danke nicht ein eine".split())


def _looks_english(text: str) -> bool:
    words = [w.lower() for w in _WORD.findall(text)]
    return sum(w in _ENGLISH_WORDS for w in words) > sum(w in _GERMAN_WORDS for w in words)


#: The writer announces several requests ("2 Fragen:", "zwei Sachen", "a couple of questions"):
#: then each question sentence is a request of its own.
_ANNOUNCED = re.compile(
    r"\b(?:2|3|4|zwei|drei|vier|ein paar|einige|mehrere|two|three|a few|a couple of|several)\s+"
    r"(?:kurze\s+|kleine\s+|quick\s+)?(?:fragen|sachen|punkte|anliegen|themen|dinge|frogen|sache|questions|things|issues|points)\b",
    re.IGNORECASE)
_AFTER_QUESTION = re.compile(r"(?<=\?)\s+(?=\S)")


#: An item or part with fewer words is not a request of its own (it joins its neighbour).
MIN_PART_WORDS = 5
#: A message with more parts than this is a list of details, not of requests.
MAX_PARTS = 4
_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def _words(text: str) -> int:
    return len(_WORD.findall(text))


#: Numbered requests written on one line: "1. wie lege ich … an 2. und wie kann ich …".
_INLINE_ITEM = re.compile(r"(?:^|(?<=\s))(?=[1-4][.)]\s+\S)")


def _inline_items(text: str) -> List[str]:
    """The items of a one-line numbered list, when the numbers run 1, 2, … in order."""
    positions = [m.start() for m in _INLINE_ITEM.finditer(text)]
    numbers = [text[p] for p in positions]
    if len(positions) < 2 or numbers != [str(i) for i in range(1, len(numbers) + 1)]:
        return [text]
    pieces = [text[:positions[0]]] + [text[a:b] for a, b in zip(positions, positions[1:] + [len(text)])]
    return [p.strip() for p in pieces if p.strip()]


def _items(lines: Sequence[str]) -> List[str]:
    """Numbered or bulleted items (each with its continuation lines), with the text
    before the first item and after the last one as items of their own."""
    blocks: List[List[str]] = [[]]
    for line in lines:
        if _ITEM.match(line):
            blocks.append([line])
        elif not line.strip() and len(blocks) > 1 and blocks[-1]:
            blocks.append([])  # a blank line ends an item
        else:
            blocks[-1].append(line)
    return ["\n".join(b).strip() for b in blocks if "\n".join(b).strip()]


def _strip_item_marker(text: str) -> str:
    match = _ITEM.match(text)
    return text[match.end() - 1:].strip() if match else text


def split_requests(text: str) -> List[str]:
    """The requests in `text`, in order; `[text]` when it holds one (or cannot be told)."""
    text = text.strip()
    if not text:
        return [text]
    lines = text.split("\n")
    parts: List[str] = []
    if sum(1 for line in lines if _ITEM.match(line)) >= 2:
        parts = _items(lines)
    else:
        parts = [piece for line_group in [text] for piece in _inline_items(line_group)]
    split: List[str] = []
    for part in parts:
        for piece in _split_at(_NEXT_REQUEST, part):
            for spoken in _split_at(_NEXT_REQUEST_SPOKEN, piece):
                pieces = _ENGLISH_ALSO.split(spoken) if _looks_english(spoken) else [spoken]
                split.extend(p.strip() for p in pieces if p.strip())
    if len(split) < 2 and _ANNOUNCED.search(text):
        split = [p for p in _AFTER_QUESTION.split(text) if p.strip()]
    cleaned = [_strip_item_marker(p) for p in split]
    merged = _merge_short(cleaned)
    if len(merged) < 2 or len(merged) > MAX_PARTS:
        return [text]
    return merged


def _split_at(pattern: "re.Pattern[str]", text: str) -> List[str]:
    """`text` cut before every match of `pattern` (overlapping matches count once)."""
    cuts = []
    end = -1
    for match in pattern.finditer(text):
        if match.start() > end and match.group().strip():
            cuts.append(match.start())
            end = match.end()
    pieces, last = [], 0
    for position in cuts:
        if text[last:position].strip():
            pieces.append(text[last:position])
            last = position
    pieces.append(text[last:])
    return pieces


def _merge_short(parts: Sequence[str]) -> List[str]:
    """Parts with fewer than MIN_PART_WORDS words join the part after them (an intro such
    as "Zwei Fragen:") or, at the end, the part before them."""
    merged: List[str] = []
    carry = ""
    for part in parts:
        part = f"{carry} {part}".strip() if carry else part
        carry = ""
        if _words(part) < MIN_PART_WORDS or part.endswith(":"):
            carry = part
            continue
        merged.append(part)
    if carry:
        if merged:
            merged[-1] = f"{merged[-1]} {carry}"
        else:
            merged.append(carry)
    return merged
