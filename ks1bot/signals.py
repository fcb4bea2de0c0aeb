"""Text signals routing needs beyond the topic: production down, a KS1 malfunction."""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Dict, Pattern, Tuple

import yaml

SIGNALS_FILE = Path(__file__).with_name("data") / "signals.yml"


@dataclass(frozen=True)
class Signals:
    production_down: Tuple[Pattern[str], ...]
    ks1_reference: Tuple[Pattern[str], ...]
    malfunction: Tuple[Pattern[str], ...]
    coverage_question: Tuple[Pattern[str], ...] = ()

    def is_production_down(self, text: str) -> bool:
        return _any(self.production_down, text)

    def mentions_ks1(self, text: str) -> bool:
        return _any(self.ks1_reference, text)

    def reports_malfunction(self, text: str) -> bool:
        """Something stopped working or went wrong (whatever it is)."""
        return _any(self.malfunction, text) or self.is_production_down(text)

    def asks_about_coverage(self, text: str) -> bool:
        """Asks whether something is covered by (or costs extra under) the contract."""
        return _any(self.coverage_question, text)

    def reports_ks1_malfunction(self, text: str) -> bool:
        """KS1 (or one of its parts) is named and something in it went wrong."""
        return self.mentions_ks1(text) and self.reports_malfunction(text)


def _any(patterns: Tuple[Pattern[str], ...], text: str) -> bool:
    return any(p.search(text) for p in patterns)


def parse_signals(raw: Dict[str, list]) -> Signals:
    def compile_all(key: str) -> Tuple[Pattern[str], ...]:
        return tuple(re.compile(p, re.IGNORECASE) for p in raw.get(key) or [])

    return Signals(
        production_down=compile_all("production_down"),
        ks1_reference=compile_all("ks1_reference"),
        malfunction=compile_all("malfunction"),
        coverage_question=compile_all("coverage_question"),
    )


@lru_cache(maxsize=4)
def load_signals(path: Path = SIGNALS_FILE) -> Signals:
    return parse_signals(yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {})
