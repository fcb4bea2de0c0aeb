"""The chat widget's web side: the embeddable loader, the vendored bundle, the demo page,
and the recovery of answers a browser missed while its connection was down (staff
replies included: the chat delivery puts them into the conversation's tracker).

Starlette routes, served next to the staff console (`ks1bot.app.wiring.console_app`
mounts them); the Rasa server's URL is given by the start-up code."""
from __future__ import annotations

import json
import urllib.parse
import urllib.request
from typing import Any, Dict, List

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from ks1bot.core.settings import PROJECT_ROOT

WIDGET = PROJECT_ROOT / "widget"
FILES = {
    "ks1-widget.js": (WIDGET / "ks1-widget.js", "text/javascript"),
    "demo.css": (WIDGET / "demo.css", "text/css"),
    "vendor/webchat.js": (WIDGET / "vendor" / "webchat.js", "text/javascript"),
}
#: Embeddable from any KS1 web origin.
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


def widget_routes(rasa_url: str) -> List[Route]:
    """The widget's routes; `rasa_url` is the Rasa server the browser and the recovery talk to."""
    rasa_url = rasa_url.rstrip("/")

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

    async def missed(request: Request) -> Response:
        session_id = request.query_params.get("session_id", "")
        try:
            since = float(request.query_params.get("since", "0"))
        except ValueError:
            since = 0.0
        if not session_id or len(session_id) > 128:
            return JSONResponse({"error": "session_id is missing"}, status_code=400, headers=CORS)
        url = f"{rasa_url}/conversations/{urllib.parse.quote(session_id, safe='')}/tracker?include_events=ALL"
        try:
            with urllib.request.urlopen(url, timeout=10) as answer:
                tracker = json.loads(answer.read())
        except (OSError, ValueError):
            return JSONResponse({"messages": [], "unanswered": True}, headers=CORS)
        return JSONResponse(missed_answers(tracker.get("events") or [], since), headers=CORS)

    return [
        Route("/widget/demo", demo),
        Route("/widget/missed", missed),
        Route("/widget/{name:path}", asset),
    ]
