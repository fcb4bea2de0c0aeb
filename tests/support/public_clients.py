"""Clients of the bot's public surface as the real ones talk to it: the REST webhook with
its API key, the phone system with signed requests, KS1 web's signed customer tokens."""
from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any, Dict, Optional, Tuple

from ks1bot.core.tokens import make_customer_token, sign_request


def customer_token(bot, customer_id: str, email: str = "", name: str = "", lifetime: int = 3600,
                   now: Optional[float] = None, secret: Optional[str] = None) -> str:
    """A customer token as KS1 web signs it for the live bot."""
    return make_customer_token(secret or bot.secrets["KS1BOT_WIDGET_TOKEN_SECRET"], customer_id,
                               time.time() if now is None else now, name=name, email=email, lifetime=lifetime)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def http(url: str, body: Optional[bytes] = None, headers: Optional[Dict[str, str]] = None, method: str = "POST",
         timeout: float = 120, context=None) -> Tuple[int, Any, Dict[str, str]]:
    """(status, decoded JSON body or text, headers) — HTTP errors included, never raised;
    redirects are not followed. `context`: the SSL context (nginx's test certificate)."""
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    opener = urllib.request.build_opener(NoRedirect, urllib.request.HTTPSHandler(context=context))
    try:
        with opener.open(request, timeout=timeout) as response:
            status, raw, got = response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as error:
        status, raw, got = error.code, error.read(), dict(error.headers)
    try:
        return status, json.loads(raw), got
    except ValueError:
        return status, raw.decode("utf-8", "replace"), got


def rest_raw(bot, body: bytes, key: Optional[str] = "default", base: Optional[str] = None, **http_args):
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["Authorization"] = f"Bearer {bot.secrets['KS1BOT_REST_API_KEY'] if key == 'default' else key}"
    return http(f"{base or bot.rasa_url}/webhooks/rest/webhook", body, headers, **http_args)


def rest(bot, payload: Dict[str, Any], **kwargs):
    """POST to the REST webhook with the API key: (status, body, headers)."""
    return rest_raw(bot, json.dumps(payload).encode(), **kwargs)


def signed_call(bot, payload: Any, *, secret: Optional[str] = None, timestamp: Optional[int] = None,
                raw: Optional[bytes] = None, base: Optional[str] = None, **http_args):
    """POST a transcript to /webhooks/call signed as the phone system does."""
    body = raw if raw is not None else json.dumps(payload).encode()
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    headers = {"Content-Type": "application/json", "X-KS1-Timestamp": stamp,
               "X-KS1-Signature": sign_request(secret or bot.secrets["KS1BOT_CALL_SECRET"], stamp, body)}
    return http(f"{base or bot.rasa_url}/webhooks/call", body, headers, **http_args)
