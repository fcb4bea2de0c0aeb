"""The chat widget's web side: the embeddable loader, the vendored bundle, the demo page,
and the recovery of answers a browser missed while its connection was down (staff
replies included: the chat delivery puts them into the conversation's tracker).

Starlette routes, served next to the staff console (`ks1bot.app.wiring.console_app`
mounts them); the start-up code gives the Rasa server's URL and token (`WidgetAccess`).

`/widget/missed` answers only the owner of a conversation: a widget session credential
the bot issued (ks1bot.core.tokens), or a REST client's API key (`Authorization: Bearer`)
for its own conversation ids. The assets may be embedded from anywhere; the recovery
answers browsers of the configured origins only (CORS), and each client address at
most `MISSED_RATE`.
"""
from __future__ import annotations

import json
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from ks1bot.channels.public import bearer, printable_id
from ks1bot.core.limits import Network, Rate, RateLimiter, client_address, retry_after
from ks1bot.core.settings import PROJECT_ROOT
from ks1bot.core.tokens import matching_key, session_conversation

#: Recoveries per client address: a burst, then per minute.
MISSED_RATE = Rate(per_minute=60, burst=30)


@dataclass(frozen=True)
class WidgetAccess:
    """What the widget's routes need from the start-up code."""

    rasa_url: str
    rasa_token: str = ""
    session_keys: Tuple[str, ...] = ()
    rest_api_keys: Tuple[str, ...] = ()
    #: Origins whose pages may read /widget/missed (KS1 web); same-origin pages always can.
    origins: Tuple[str, ...] = ()
    trusted_proxies: Tuple[Network, ...] = field(default=())


WIDGET = PROJECT_ROOT / "widget"
FILES = {
    "ks1-widget.js": (WIDGET / "ks1-widget.js", "text/javascript"),
    "demo.css": (WIDGET / "demo.css", "text/css"),
    "vendor/webchat.js": (WIDGET / "vendor" / "webchat.js", "text/javascript"),
}
#: The loader and bundle are public files: embeddable from any KS1 web origin.
CORS = {"Access-Control-Allow-Origin": "*", "Cache-Control": "no-cache"}


def demo_csp(server: str) -> str:
    socket = server.replace("http://", "ws://").replace("https://", "wss://")
    # rasa-webchat injects its stylesheet at run time, hence 'unsafe-inline' for styles only.
    return (f"default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
            f"font-src 'self' data:; connect-src 'self' {server} {socket}; object-src 'none'; base-uri 'none'")


def missed_answers(events: List[Dict[str, Any]], since: float) -> Dict[str, Any]:
    """Bot answers after `since`, and whether the last user message after `since` went unanswered."""
    later = [e for e in events if float(e.get("timestamp") or 0) > since]
    bot = [{"text": e.get("text"), "timestamp": e.get("timestamp")} for e in later
           if e.get("event") == "bot" and e.get("text")]
    last_user = max((float(e["timestamp"]) for e in later if e.get("event") == "user"), default=None)
    last_bot = max((float(b["timestamp"]) for b in bot), default=None)
    unanswered = last_user is not None and (last_bot is None or last_bot < last_user)
    return {"messages": bot, "unanswered": unanswered}


def widget_routes(access: WidgetAccess) -> List[Route]:
    """The widget's routes."""
    rasa_url = access.rasa_url.rstrip("/")
    limiter = RateLimiter(MISSED_RATE)

    async def asset(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in FILES:
            return JSONResponse({"error": "no such widget file"}, status_code=404, headers=CORS)
        path, media = FILES[name]
        if not path.exists():
            return JSONResponse({"error": "the widget bundle is missing; run scripts/fetch_widget.sh (make run does)"},
                                status_code=503, headers=CORS)
        return FileResponse(path, media_type=media, headers=CORS)

    async def demo(request: Request) -> Response:
        server = rasa_url
        html = (WIDGET / "demo.html").read_text(encoding="utf-8").replace("{{ rasa_url }}", server)
        return HTMLResponse(html, headers={"Content-Security-Policy": demo_csp(server)})

    def cors(request: Request) -> Dict[str, str]:
        origin = request.headers.get("origin")
        headers = {"Cache-Control": "no-store", "Vary": "Origin"}
        if origin and origin in access.origins:
            headers["Access-Control-Allow-Origin"] = origin
        return headers

    def owned_conversation(request: Request, given: str) -> Optional[str]:
        conversation = session_conversation(given, access.session_keys, check_identity=False)
        if conversation is None and matching_key(bearer(request.headers.get("authorization")),
                                                  access.rest_api_keys) is not None:
            conversation = printable_id(given)  # a REST client's own conversation id
        return conversation

    async def missed(request: Request) -> Response:
        headers = cors(request)
        client = client_address(request.client.host if request.client else None,
                                request.headers.get("x-forwarded-for"), access.trusted_proxies)
        wait = limiter.hit(client)
        if wait:
            return JSONResponse({"error": f"Too many requests; wait {retry_after(wait)} seconds."}, status_code=429,
                                headers={**headers, "Retry-After": retry_after(wait)})
        given = request.query_params.get("session_id", "")
        try:
            since = float(request.query_params.get("since", "0"))
        except ValueError:
            since = 0.0
        if not given or len(given) > 128:
            return JSONResponse({"error": "session_id is missing; send the widget's session id."}, status_code=400,
                                headers=headers)
        conversation = owned_conversation(request, given)
        if conversation is None:
            return JSONResponse({"error": "This session was not issued to you; open the chat again for a new one."},
                                status_code=403, headers=headers)
        query = urllib.parse.urlencode({"include_events": "ALL", "token": access.rasa_token})
        url = f"{rasa_url}/conversations/{urllib.parse.quote(conversation, safe='')}/tracker?{query}"
        try:
            with urllib.request.urlopen(url, timeout=10) as answer:
                tracker = json.loads(answer.read())
        except (OSError, ValueError):
            return JSONResponse({"messages": [], "unanswered": True}, headers=headers)
        return JSONResponse(missed_answers(tracker.get("events") or [], since), headers=headers)

    return [
        Route("/widget/demo", demo),
        Route("/widget/missed", missed),
        Route("/widget/{name:path}", asset),
    ]
