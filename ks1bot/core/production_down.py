"""Is the customer's production down? A signal of its own, read from the message text.

A bug report whose writer cannot work any more ("bei uns steht alles", "wir können nicht
mehr fakturieren", "gar nix geht", "all our users are locked out") gets priority high.
The cue phrases, and what turns a cue off (negation, a hypothetical, an outage that is
over, a planning question), are data: `data/production_down.yml`. Pure functions; the
figures on bench/data/production_down.jsonl are in docs/benchmarks.md.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterator, Optional, Pattern, Sequence, Tuple

import yaml

PATTERNS_FILE = Path(__file__).with_name("data") / "production_down.yml"
NEGATION_WINDOW = 3
HYPOTHETICAL_WINDOW = 6
RESOLVED_WINDOW = 10
_WORD = re.compile(r"[\w'’]+", re.UNICODE)
_SENTENCE = re.compile(r"[^.!?]+[.!?]*")


@dataclass(frozen=True)
class ProductionDown:
    cues: Tuple[Pattern[str], ...]
    negators: Tuple[Pattern[str], ...]
    close_negators: Tuple[Pattern[str], ...]
    past: Tuple[Pattern[str], ...]
    hypothetical: Tuple[Pattern[str], ...]
    resolved: Tuple[Pattern[str], ...]
    planning: Tuple[Pattern[str], ...]
    rest_works: Tuple[Pattern[str], ...]
    question_starts: Tuple[Pattern[str], ...]

    def detect(self, text: str) -> bool:
        """True when some cue in `text` says production is down now."""
        return self.evidence(text) is not None

    def evidence(self, text: str) -> Optional[str]:
        """The cue phrase that says production is down, or None."""
        if any(p.search(text) for p in self.rest_works):
            return None
        sentences = list(_sentences(text))
        for index, sentence in enumerate(sentences):
            if self._planning_question(sentence) or any(p.search(sentence) for p in self.planning):
                continue
            later = " ".join(sentences[index + 1:])
            if any(p.search(later) for p in self.resolved):
                continue  # "… stand alles. Inzwischen läuft es wieder."
            for cue in self.cues:
                for match in cue.finditer(sentence):
                    if not self._turned_off(sentence, match.start(), match.end()):
                        return match.group(0)
        return None

    def _planning_question(self, sentence: str) -> bool:
        return sentence.rstrip().endswith("?") and any(p.search(sentence) for p in self.question_starts)

    def _turned_off(self, sentence: str, start: int, end: int) -> bool:
        before = [w.lower() for w in _WORD.findall(sentence[:start])]
        if any(_full(p, w) for p in self.negators for w in before[-NEGATION_WINDOW:]):
            return True
        if before and any(_full(p, before[-1]) for p in self.close_negators):
            return True
        if any(_full(p, w) for p in self.past for w in before[-HYPOTHETICAL_WINDOW:]):
            return True
        if any(_full(p, w) for p in self.hypothetical for w in before[-HYPOTHETICAL_WINDOW:]):
            return True
        after = " ".join(_WORD.findall(sentence[end:])[:RESOLVED_WINDOW])
        return any(p.search(after) for p in self.resolved)


def _full(pattern: Pattern[str], word: str) -> bool:
    return pattern.fullmatch(word) is not None


def _sentences(text: str) -> Iterator[str]:
    for match in _SENTENCE.finditer(text.replace("\n", " ")):
        if match.group(0).strip():
            yield match.group(0)


def parse_patterns(raw: dict) -> ProductionDown:
    def compile_all(key: str) -> Tuple[Pattern[str], ...]:
        return tuple(re.compile(p, re.IGNORECASE) for p in raw.get(key) or [])

    def words(key: str) -> Tuple[Pattern[str], ...]:
        return tuple(re.compile(p.strip("^$"), re.IGNORECASE) for p in raw.get(key) or [])

    return ProductionDown(
        cues=compile_all("cues"),
        negators=words("negators"),
        close_negators=words("close_negators"),
        past=words("past"),
        hypothetical=words("hypothetical"),
        resolved=compile_all("resolved"),
        planning=compile_all("planning"),
        rest_works=compile_all("rest_works"),
        question_starts=compile_all("question_starts"),
    )


@lru_cache(maxsize=4)
def load(path: Path = PATTERNS_FILE) -> ProductionDown:
    return parse_patterns(yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {})


def is_production_down(text: str, detector: Optional[ProductionDown] = None) -> bool:
    return (detector or load()).detect(text)


def measure(detector: ProductionDown, cases: Sequence[Tuple[str, bool]]) -> dict:
    """Recall, precision and the counts on labelled (text, production_down) pairs."""
    tp = fp = fn = tn = 0
    for text, truth in cases:
        got = detector.detect(text)
        tp += got and truth
        fp += got and not truth
        fn += truth and not got
        tn += not got and not truth
    return {"n": len(cases), "recall": tp / (tp + fn) if tp + fn else 1.0,
            "precision": tp / (tp + fp) if tp + fp else 1.0, "tp": tp, "fp": fp, "fn": fn, "tn": tn}
