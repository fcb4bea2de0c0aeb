"""The console's words: one catalogue per language (console/texts/<lang>.yml), German by
default, English per staff member; dates and times in Europe/Berlin, in the language's
format ("Mo., 7. Dez. 2026, 08:30").

Templates get `t(key, **values)` and the date filters through `Texts`; Python code that
makes a sentence for staff (result notices, errors) looks it up here too. A key missing
from a language falls back to German, then to the key itself (a test checks that both
catalogues have the same keys)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, Mapping, Optional
from zoneinfo import ZoneInfo

import yaml
from babel.dates import format_date, format_datetime

TEXTS_DIR = Path(__file__).with_name("texts")
LANGUAGES = ("de", "en")
DEFAULT_LANGUAGE = "de"
BERLIN = ZoneInfo("Europe/Berlin")
#: Babel patterns: "Mo., 7. Dez. 2026, 08:30" / "Mon, 7 Dec 2026, 08:30".
DATETIME_PATTERNS = {"de": "EE, d. MMM y, HH:mm", "en": "EEE, d MMM y, HH:mm"}
DATE_PATTERNS = {"de": "EE, d. MMM y", "en": "EEE, d MMM y"}
SHORT_DAY_PATTERNS = {"de": "d. MMM", "en": "d MMM"}


@lru_cache(maxsize=None)
def catalogue(language: str) -> Dict[str, str]:
    """The flat key → text mapping of one language (nested YAML keys joined with dots)."""
    raw = yaml.safe_load((TEXTS_DIR / f"{language}.yml").read_text(encoding="utf-8")) or {}
    flat: Dict[str, str] = {}

    def walk(prefix: str, node: Any) -> None:
        if isinstance(node, Mapping):
            for key, value in node.items():
                walk(f"{prefix}.{key}" if prefix else str(key), value)
        else:
            flat[prefix] = str(node)

    walk("", raw)
    return flat


def language_of(value: Optional[str]) -> str:
    return value if value in LANGUAGES else DEFAULT_LANGUAGE


def berlin(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(BERLIN)


@dataclass(frozen=True)
class Texts:
    language: str = DEFAULT_LANGUAGE

    def __call__(self, key: str, **values: Any) -> str:
        text = catalogue(self.language).get(key)
        if text is None:
            text = catalogue(DEFAULT_LANGUAGE).get(key, key)
        return text.format(**values) if values else text

    def has(self, key: str) -> bool:
        return key in catalogue(self.language) or key in catalogue(DEFAULT_LANGUAGE)

    def term(self, group: str, value: Optional[str]) -> str:
        """A vocabulary word (topic, route, status, channel …) in this language; unknown
        values are shown as they are."""
        if value is None or value == "":
            return ""
        key = f"{group}.{value}"
        return self(key) if self.has(key) else str(value)

    def datetime(self, value: Optional[dt.datetime]) -> str:
        if value is None:
            return ""
        return format_datetime(berlin(value), DATETIME_PATTERNS[self.language], locale=self.language)

    def date(self, value) -> str:
        if value is None:
            return ""
        if isinstance(value, dt.datetime):
            value = berlin(value).date()
        return format_date(value, DATE_PATTERNS[self.language], locale=self.language)

    def day(self, value) -> str:
        return format_date(value, SHORT_DAY_PATTERNS[self.language], locale=self.language)

    def number(self, value: float, digits: int = 1) -> str:
        text = f"{value:.{digits}f}"
        return text.replace(".", ",") if self.language == "de" else text

    def percent(self, value: Optional[float], digits: int = 1) -> str:
        if value is None:
            return "–"
        return f"{self.number(100 * value, digits)} %"

    def duration(self, value: Optional[dt.timedelta]) -> str:
        if value is None:
            return "–"
        minutes = int(abs(value).total_seconds() // 60)
        return self("time.hours_minutes", h=minutes // 60, m=f"{minutes % 60:02d}") if minutes >= 60 \
            else self("time.minutes", m=minutes)

    def duration_minutes(self, minutes: float) -> str:
        return self.duration(dt.timedelta(minutes=minutes))

    def sla(self, state) -> str:
        """An SLA badge's words (ks1bot.conversations.sla.SlaState)."""
        if state.badge == "done" or state.remaining is None:
            return self("sla.done")
        return self(f"sla.{state.badge}", time=self.duration(state.remaining))

    def delivery(self, item) -> str:
        """An outbox row's state for staff (ks1bot.conversations.outbox.OutboxItem)."""
        status = self.term("delivery_status", item.status)
        if item.status == "failed":
            return self("delivery.failed", reason=item.last_error or self("delivery.unknown_reason"))
        if item.status in ("queued", "sending") and item.last_error:
            return self("delivery.retrying", status=status, reason=item.last_error)
        return status

    def delivery_what(self, item) -> str:
        if item.kind == "hand_back":
            return self("delivery.hand_back")
        return self("delivery.reply_by", name=item.staff_name or self("delivery.staff"))
