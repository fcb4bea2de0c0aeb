"""What the public channels of the Rasa server share (REST, phone, chat widget): the
secrets, the size and rate limits, the replay cache of signed requests and the trusted
proxies. The start-up code registers it (`ks1bot.app.wiring.rasa_server_channels`) before
Rasa builds the channels; a channel without it refuses every request (fail closed).

Also the helpers of their HTTP answers: one JSON object `{"error": one sentence}` for
every refusal, 413 above the size limit, 429 with Retry-After above a rate limit.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Optional, Sequence, Tuple

from ks1bot.core.limits import Network, Rate, RateLimiter, ReplayCache, client_address, retry_after
from ks1bot.core.secrets import Secrets
from ks1bot.core.settings import SecuritySettings


@dataclass
class PublicSurface:
    secrets: Secrets
    max_message_bytes: int = 65536
    trusted_proxies: Tuple[Network, ...] = ()
    conversation_limit: RateLimiter = field(default_factory=lambda: RateLimiter(Rate(30, 10)))
    client_limit: RateLimiter = field(default_factory=lambda: RateLimiter(Rate(3000, 300)))
    session_limit: RateLimiter = field(default_factory=lambda: RateLimiter(Rate(30, 30)))
    replay_window: float = 300.0
    replays: ReplayCache = field(default_factory=lambda: ReplayCache(300.0))
    #: Wall clock (token expiry, signature timestamps).
    clock: Callable[[], float] = time.time

    @classmethod
    def from_settings(cls, security: SecuritySettings, secrets: Secrets) -> "PublicSurface":
        from ks1bot.core.limits import parse_networks

        window = float(security.call_replay_window_seconds)
        return cls(
            secrets=secrets,
            max_message_bytes=security.max_message_bytes,
            trusted_proxies=parse_networks(security.trusted_proxies),
            conversation_limit=RateLimiter(Rate(security.conversation_per_minute, security.conversation_burst)),
            client_limit=RateLimiter(Rate(security.client_per_minute, security.client_burst)),
            session_limit=RateLimiter(Rate(security.session_per_minute, security.session_burst)),
            replay_window=window,
            replays=ReplayCache(window),
        )

    def client_of(self, peer: Optional[str], forwarded_for: Optional[str]) -> str:
        return client_address(peer, forwarded_for, self.trusted_proxies)

    def over_limit(self, *keys: Tuple[RateLimiter, str]) -> float:
        """Seconds to wait when any of the (limiter, key) pairs is over its rate, else 0."""
        return max((limiter.hit(key) for limiter, key in keys), default=0.0)


_surface: Optional[PublicSurface] = None


def configure(surface: Optional[PublicSurface]) -> None:
    """Register the public surface (start-up code, before Rasa builds its channels)."""
    global _surface
    _surface = surface


def current() -> Optional[PublicSurface]:
    return _surface


NOT_CONFIGURED = ("This channel is not configured (start the Rasa server with python -m ks1bot.app.rasa_server, "
                  "as ks1bot serve does).")


# -- JSON bodies --------------------------------------------------------------------------
def read_json_object(body: Optional[bytes], shape: str) -> Tuple[Optional[Dict[str, Any]], Optional[str]]:
    """(object, None) or (None, one sentence saying what is wrong). `shape` names the
    fields the endpoint expects, for the sentence."""
    if not body or not body.strip():
        return None, f"The body is empty; send a JSON object {shape}."
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        return None, f"The body is not valid JSON; send a JSON object {shape}."
    except RecursionError:
        return None, f"The body is nested too deeply; send a flat JSON object {shape}."
    if not isinstance(data, dict):
        kind = {list: "an array", str: "a string", int: "a number", float: "a number", bool: "a boolean"}.get(
            type(data), "null")
        return None, f"The body is {kind}; send a JSON object {shape}."
    return data, None


def too_large(limit: int) -> Tuple[Dict[str, str], int]:
    return {"error": f"The request is larger than {limit // 1024} KB; shorten the message."}, 413


def rate_limited(wait: float) -> Tuple[Dict[str, str], int, Dict[str, str]]:
    seconds = retry_after(wait)
    return ({"error": f"Too many messages; wait {seconds} seconds before sending the next one."}, 429,
            {"Retry-After": seconds})


def bearer(header: Optional[str]) -> Optional[str]:
    """The token of an `Authorization: Bearer …` header."""
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def printable_id(value: Any, limit: int = 128) -> Optional[str]:
    """A conversation id as given by a client: a non-empty string of at most `limit`
    printable characters, else None."""
    if not isinstance(value, str):
        return None
    value = value.strip()
    if not value or len(value) > limit or any(ord(c) < 32 or ord(c) == 127 for c in value):
        return None
    return value


def allowed_keys(data: Dict[str, Any], keys: Sequence[str]) -> Dict[str, Any]:
    return {k: data[k] for k in keys if k in data}


#: Intent payloads a customer's client may send: the widget opens a conversation with one.
CUSTOMER_PAYLOADS = ("/greeting",)


def customer_text(text: str) -> str:
    """The text as words. Rasa reads a text starting with "/" as an intent with entities
    (`/EXTERNAL_staff_reply{"staff_text": …}` would put words into a staff member's
    mouth); from customers only the widget's opening payload is taken as one, any other
    leading slashes are dropped."""
    stripped = text.strip()
    if stripped.startswith("/") and stripped not in CUSTOMER_PAYLOADS:
        return stripped.lstrip("/").strip()
    return text
