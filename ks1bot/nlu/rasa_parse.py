"""The Rasa server's NLU over its HTTP API, for processes that do not load the model.

The action server gets the parse of a customer's whole message from Rasa in the tracker;
the requests of a message with several are parsed here, by `POST /model/parse` on the
Rasa server that called it (KS1BOT_RASA_URL, set by `ks1bot serve`), with the API token
when one is configured (KS1BOT_RASA_TOKEN).
"""
from __future__ import annotations

import json
import logging
import os
import urllib.parse
import urllib.request
from typing import Any, Dict, Optional

from ks1bot.core import logs

log = logging.getLogger("ks1bot.nlu.rasa_parse")


class RasaParseError(Exception):
    """The Rasa server could not parse a text (down, refused, or answered garbage)."""


class RasaHttpParser:
    def __init__(self, url: str, token: Optional[str] = None, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout

    @classmethod
    def from_environment(cls) -> Optional["RasaHttpParser"]:
        url = os.environ.get("KS1BOT_RASA_URL")
        return cls(url, os.environ.get("KS1BOT_RASA_TOKEN") or None) if url else None

    def parse(self, text: str) -> Dict[str, Any]:
        query = "?" + urllib.parse.urlencode({"token": self.token}) if self.token else ""
        request = urllib.request.Request(f"{self.url}/model/parse{query}", method="POST",
                                         data=json.dumps({"text": text}).encode("utf-8"),
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                data = json.loads(response.read().decode("utf-8"))
        except (OSError, ValueError) as exc:
            logs.event(log, "rasa_parse_failed", logging.WARNING, error=repr(exc))
            raise RasaParseError(f"the Rasa server at {self.url} could not parse the text ({exc})") from exc
        if not isinstance(data, dict):
            raise RasaParseError(f"the Rasa server at {self.url} answered {type(data).__name__}, not a parse")
        return data
