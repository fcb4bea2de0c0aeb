"""A Router with the real routing code but a keyword parser instead of the Rasa model:
fast to start, for tests about mail mechanics (crash/restart, IMAP) where the model's
answer does not matter (tests/support/mail_launcher.py --stub-router injects it into a
real gateway process)."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Optional

KEYWORDS = (
    ("fehler", "bug_report"), ("error", "bug_report"), ("crash", "bug_report"), ("stürzt", "bug_report"),
    ("drucker", "hardware"), ("printer", "hardware"), ("danke", "thanks"), ("thanks", "thanks"),
    ("update", "update_question"), ("vpn", "network"),
)


class KeywordParser:
    def parse(self, text: str) -> Dict[str, Any]:
        lowered = text.lower()
        for word, topic in KEYWORDS:
            if word in lowered:
                return {"intent": {"name": topic, "confidence": 0.95},
                        "intent_ranking": [{"name": topic, "confidence": 0.95}]}
        return {"intent": {"name": "request_human", "confidence": 0.9},
                "intent_ranking": [{"name": "request_human", "confidence": 0.9}]}


def build(settings, customers: Optional[Path], progress=None):
    from ks1bot.core.customers import CustomerDirectory
    from ks1bot.nlu.router import Router

    directory = CustomerDirectory.load(customers) if customers else CustomerDirectory.empty()
    return Router(settings, directory, None, parser=KeywordParser())
