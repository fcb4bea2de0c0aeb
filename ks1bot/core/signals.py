"""Text signals routing needs beyond the topic: production down (`production_down`), a KS1
malfunction, a question whether something is covered by the contract."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Dict, Optional, Pattern, Tuple

import yaml

from ks1bot.core.production_down import ProductionDown
from ks1bot.core.production_down import load as load_production_down

SIGNALS_FILE = Path(__file__).with_name("data") / "signals.yml"
_UPDATE_SERVICE = re.compile(r"\bupdate[- ]?(?:service|vertrag|contract|subscription)|\bupdateservice", re.IGNORECASE)
_SUPPORT_CONTRACT = re.compile(r"\bsupport[- ]?(?:vertrag|contract|leistungen|umfang)|\bsupportvertrag", re.IGNORECASE)
_HOW = re.compile(r"\b(?:wie|wo|how|where)\b(?:\W+\w+){1,7}", re.IGNORECASE)
#: "… but": what follows is a new matter, not a closing.
_CONTRAST = re.compile(r"\b(?:aber|jedoch|allerdings|nur|leider|but|however|only|though)\b", re.IGNORECASE)
#: A message that closes the matter has at most this many words.
CLOSURE_MAX_WORDS = 30


@dataclass(frozen=True)
class Signals:
    ks1_reference: Tuple[Pattern[str], ...]
    malfunction: Tuple[Pattern[str], ...]
    coverage_question: Tuple[Pattern[str], ...] = ()
    availability_question: Tuple[Pattern[str], ...] = ()
    closure: Tuple[Pattern[str], ...] = ()
    person_request: Tuple[Pattern[str], ...] = ()
    ks1_unaffected: Tuple[Pattern[str], ...] = ()
    ks1_how_to: Tuple[Pattern[str], ...] = ()
    guide_request: Tuple[Pattern[str], ...] = ()
    ks1_function: Tuple[Pattern[str], ...] = ()
    application_error: Tuple[Pattern[str], ...] = ()
    production_down: ProductionDown = field(default_factory=load_production_down)

    def is_production_down(self, text: str) -> bool:
        return self.production_down.detect(text)

    def mentions_ks1(self, text: str) -> bool:
        return _any(self.ks1_reference, text)

    def reports_malfunction(self, text: str) -> bool:
        """Something stopped working or went wrong (whatever it is)."""
        return _any(self.malfunction, text) or self.is_production_down(text)

    def asks_about_coverage(self, text: str) -> bool:
        """Asks whether something is covered by (or costs extra under) the contract, or when
        and from where support can be reached: a contract question, whatever area it names."""
        return _any(self.coverage_question, text) or _any(self.availability_question, text)

    def contract_article(self, text: str) -> Optional[Tuple[str, str]]:
        """(article id, why) of the knowledge-base article a contract question is answered
        by, when the question says it: support-hours (when or from where can we reach you),
        update-service (what the update service covers), support-contract (what the
        support contract covers)."""
        if _any(self.availability_question, text):
            return "support-hours", "availability_question"
        if _any(self.coverage_question, text):
            if _UPDATE_SERVICE.search(text) and not _SUPPORT_CONTRACT.search(text):
                return "update-service", "coverage_question"
            return "support-contract", "coverage_question"
        return None

    def asks_for_person(self, text: str) -> bool:
        """Asks for a call back or to speak to a person."""
        return _any(self.person_request, text)

    def closes_the_matter(self, text: str) -> bool:
        """Only says the matter is settled: a closing phrase, no question, no new fault,
        at most CLOSURE_MAX_WORDS words."""
        return (_any(self.closure, text) and "?" not in text and len(text.split()) <= CLOSURE_MAX_WORDS
                and not self.reports_malfunction(text) and not _CONTRAST.search(text))

    def reports_ks1_malfunction(self, text: str) -> bool:
        """KS1 (or one of its parts) is named and something in it went wrong, or one of
        KS1's functions shows an application error (and the message does not say KS1
        itself is fine)."""
        if _any(self.ks1_unaffected, text):
            return False
        if self.mentions_ks1(text) and self.reports_malfunction(text):
            return True
        return _any(self.ks1_function, text) and _any(self.application_error, text)

    def asks_for_guide(self, text: str) -> bool:
        """Asks for an installation or configuration guide for KS1 or its SQL Server."""
        return _any(self.guide_request, text)

    def asks_how_to_in_ks1(self, text: str) -> bool:
        """Asks how to do something in KS1 itself, or with one of KS1's functions ("wie
        mached mir de Tagesabschluss?")."""
        if _any(self.ks1_unaffected, text):
            return False
        if _any(self.ks1_how_to, text):
            return True
        return any(m.end() - m.start() < 90 and _any(self.ks1_function, m.group(0)) for m in _HOW.finditer(text))


def _any(patterns: Tuple[Pattern[str], ...], text: str) -> bool:
    return any(p.search(text) for p in patterns)


def parse_signals(raw: Dict[str, list]) -> Signals:
    def compile_all(key: str) -> Tuple[Pattern[str], ...]:
        return tuple(re.compile(p, re.IGNORECASE) for p in raw.get(key) or [])

    return Signals(
        ks1_reference=compile_all("ks1_reference"),
        malfunction=compile_all("malfunction"),
        coverage_question=compile_all("coverage_question"),
        availability_question=compile_all("availability_question"),
        closure=compile_all("closure"),
        person_request=compile_all("person_request"),
        ks1_unaffected=compile_all("ks1_unaffected"),
        ks1_how_to=compile_all("ks1_how_to"),
        guide_request=compile_all("guide_request"),
        ks1_function=compile_all("ks1_function"),
        application_error=compile_all("application_error"),
    )


@lru_cache(maxsize=4)
def load_signals(path: Path = SIGNALS_FILE) -> Signals:
    return parse_signals(yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {})
