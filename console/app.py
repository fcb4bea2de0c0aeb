"""The staff console web app (Starlette, ASGI): login, queue, detail, actions, live updates,
the conversations' files.

The console reads and writes the conversation record only: a reply or a hand-back is
queued there (the outbox) and the channel's own process delivers it; the detail page
follows the delivery live. It holds no channel credentials and imports no channel.

Files customers sent are untrusted: they are only ever served for download
(`Content-Disposition: attachment`, `application/octet-stream`, `nosniff`, a sandboxing
CSP). Images are previewed inline only when their bytes are PNG, JPEG, GIF or WebP
(sniffed, whatever type the sender declared), served with that type and nothing else."""
from __future__ import annotations

import asyncio
import json
import logging
import secrets
from pathlib import Path
from typing import Any, Dict, Optional, Sequence, Union
from urllib.parse import urlencode

from sqlalchemy.exc import OperationalError
from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders, UploadFile
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from console.auth import Auth, tokens_match
from console.features import Helpers, console_features
from console.kb import kb_routes
from console.i18n import LANGUAGES, Texts, language_of
from ks1bot.conversations.attachments import PREVIEW_TYPES, NewFile, sniff_image
from ks1bot.conversations.db import StoreUnavailable
from ks1bot.conversations.models import CHANNELS, PRIORITIES, STATUSES
from ks1bot.conversations.store import HandoffStore, HandoffView
from ks1bot.core import logs
from ks1bot.core.limits import Network, client_address, forwarded_https

log = logging.getLogger("console.app")
HERE = Path(__file__).parent
SESSION_COOKIE = "ks1_session"
LOGIN_COOKIE = "ks1_login_csrf"
#: Customer text is untrusted: no inline script or style runs, only our own files.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
MAX_FORM_BYTES = 2_000_000
#: Files staff may attach to one reply, together (settings: mail.max_attachment_bytes).
DEFAULT_MAX_UPLOAD_BYTES = 25 * 1024 * 1024
MAX_UPLOAD_FILES = 20
#: What a customer's file is served with: never run, never rendered, never sniffed.
FILE_CSP = "default-src 'none'; sandbox"


def content_disposition(kind: str, filename: str) -> str:
    """`attachment; filename="ascii"; filename*=UTF-8''…` (RFC 6266), safe for any name."""
    from urllib.parse import quote

    fallback = "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\' else "_" for ch in filename) or "file"
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


#: Largest id the database holds (64-bit); any other id is a 404, not an error.
MAX_ID = 2 ** 63 - 1

#: The codes `?notice=<code>` on a handoff's page may carry (store.RESULT_CODES and the
#: console's own); the sentence for each is in the catalogue (console/texts, "notices.<code>"),
#: filled from the handoff itself. Query parameters carry codes only, never text.
NOTICES = (
    "claimed", "already_yours", "claim_lost", "duplicate", "duplicate_reply", "reply_empty", "reply_sent",
    "reply_queued", "resolved", "handed_back", "not_found", "already_resolved", "already_handed_back",
    "claimed_by_other", "files_not_kept", "files_email_only",
    "correction_saved", "correction_invalid", "note_saved", "note_empty", "assigned", "assign_unknown",
    "language_saved",
)
#: What `?error=<code>` on the login page may say.
LOGIN_ERRORS = ("session_expired",)


def notice_text(code: str, handoff: HandoffView, t: Texts = Texts(), assignee: Optional[str] = None) -> str:
    """The sentence for a result code on this handoff's page ('' for an unknown code)."""
    if code not in NOTICES:
        return ""
    note = handoff.deliveries[-1].note if handoff.deliveries else ""
    return t(f"notices.{code}", claimed_by=handoff.claimed_by or t("notices.a_colleague"), note=note or "",
             name=assignee or t("notices.a_colleague"))


def parse_id(value: Optional[str]) -> Optional[int]:
    """A positive database id from a URL, else None (letters, signs, huge numbers)."""
    if not value or not value.isascii() or not value.isdigit() or len(value) > 19:
        return None
    number = int(value)
    return number if 0 < number <= MAX_ID else None


def create_app(store: HandoffStore, auth: Auth, secure_cookies: Union[str, bool] = "auto", poll_seconds: float = 1.0,
               extra_routes: Sequence[BaseRoute] = (), trusted_proxies: Sequence[Network] = (),
               max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES, knowledge_dir: Optional[Path] = None,
               customers=None) -> Starlette:
    """`extra_routes`: served by the same app (the chat widget's web side, mounted by the
    start-up code). `secure_cookies`: auto (Secure when the request came over HTTPS, also
    as a trusted proxy reports it), always or never. `trusted_proxies`: the reverse proxies
    whose X-Forwarded-For / X-Forwarded-Proto are believed; nobody else's.
    `max_upload_bytes`: the files of one staff reply together. `knowledge_dir`: the articles
    staff may insert into a reply; `customers`: the customer directory (customer page)."""
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    cookie_mode = {True: "always", False: "never"}.get(secure_cookies, secure_cookies) \
        if isinstance(secure_cookies, bool) else secure_cookies

    def peer(request: Request) -> Optional[str]:
        return request.client.host if request.client else None

    def client_of(request: Request) -> str:
        return client_address(peer(request), request.headers.get("x-forwarded-for"), trusted_proxies)

    def over_https(request: Request) -> bool:
        return request.url.scheme == "https" or forwarded_https(
            peer(request), request.headers.get("x-forwarded-proto"), trusted_proxies)

    def texts_of(request: Request) -> Texts:
        session = getattr(request.state, "session", None)
        return Texts(language_of(session[0].language if session else None))

    def page(request: Request, name: str, context: Dict[str, Any], status_code: int = 200) -> HTMLResponse:
        t = texts_of(request)
        session = getattr(request.state, "session", None)
        context = {"t": t, "lang": t.language, "languages": LANGUAGES, "staff": session[0] if session else None,
                   "csrf_token": session[1] if session else "", **context}
        response = templates.TemplateResponse(request, name, context, status_code=status_code)
        return response

    def current(request: Request):
        session = auth.session(request.cookies.get(SESSION_COOKIE))
        request.state.session = session
        return session

    def to_login(request: Request) -> Response:
        if request.url.path.startswith(("/console/api", "/console/events")):
            return JSONResponse({"error": Texts()("login.first")}, status_code=401)
        return RedirectResponse("/console/login", status_code=303)

    def role_refused(request: Request) -> HTMLResponse:
        """403 for a page or action of the lead role (checked on the server, every request)."""
        t = texts_of(request)
        logs.event(log, "role_refused", logging.WARNING, path=request.url.path)
        return page(request, "error.html", {"title": t("errors.role_title"), "message": t("errors.role")}, 403)

    limit_mb = max(1, max_upload_bytes // (1024 * 1024))

    async def form_of(request: Request, uploads: Optional[list] = None) -> Dict[str, str]:
        """The form's text fields; with `uploads` (a list), the files of a multipart form
        are appended to it as NewFile (at most `max_upload_bytes` together)."""
        length = int(request.headers.get("content-length") or 0)
        if length > (MAX_FORM_BYTES + max_upload_bytes if uploads is not None else MAX_FORM_BYTES):
            raise HTTPException(413, texts_of(request)("errors.too_large_form", mb=limit_mb))
        try:
            form = await request.form(max_files=MAX_UPLOAD_FILES if uploads is not None else 0,
                                      max_part_size=MAX_FORM_BYTES)
        except HTTPException as exc:  # too many files or fields
            raise HTTPException(413, texts_of(request)("errors.too_large_form", mb=limit_mb)) from None
        fields: Dict[str, str] = {}
        total = 0
        for key, value in form.multi_items():
            if isinstance(value, UploadFile):
                if uploads is None or not value.filename:
                    continue
                data = await value.read()
                total += len(data)
                if total > max_upload_bytes:
                    raise HTTPException(413, texts_of(request)("errors.too_large_files", mb=limit_mb))
                uploads.append(NewFile(value.filename, value.content_type or "application/octet-stream", data))
            else:
                fields.setdefault(key, str(value))
        return fields

    def csrf_ok(form: Dict[str, str], csrf: str) -> bool:
        return tokens_match(csrf, form.get("csrf_token"))

    def set_cookie(request: Request, response: Response, name: str, value: str) -> None:
        secure = cookie_mode == "always" or (cookie_mode == "auto" and over_https(request))
        response.set_cookie(name, value, httponly=True, samesite="lax", secure=secure, path="/console")

    async def signed_in_form(request: Request, uploads: Optional[list] = None):
        """(staff, form) of a logged-in POST with a valid CSRF token, or the response to send."""
        session = current(request)
        if session is None:
            return None, to_login(request)
        form = await form_of(request, uploads)
        if not csrf_ok(form, session[1]):
            return None, forbidden(request)
        return (session[0], form), None

    def forbidden(request: Request) -> HTMLResponse:
        logs.event(log, "csrf_rejected", logging.WARNING, path=request.url.path)
        t = texts_of(request)
        return page(request, "error.html", {"title": t("errors.forbidden_title"), "message": t("errors.csrf")}, 403)

    # -- login ----------------------------------------------------------------------------
    async def login_page(request: Request) -> Response:
        token = secrets.token_urlsafe(24)
        code = request.query_params.get("error", "")
        error = Texts()(f"login.{code}") if code in LOGIN_ERRORS else ""
        response = page(request, "login.html", {"csrf_token": token, "error": error})
        set_cookie(request, response, LOGIN_COOKIE, token)
        return response

    async def login(request: Request) -> Response:
        form = await form_of(request)
        if not tokens_match(request.cookies.get(LOGIN_COOKIE), form.get("csrf_token")):
            return forbidden(request)
        token, problem = auth.login(form.get("name", "").strip(), form.get("password", ""), client_of(request))
        if token is None:
            locked = problem.startswith("Too many")
            status = 429 if locked else 401
            minutes = int(auth.policy.window.total_seconds() // 60)
            error = Texts()("login.locked", minutes=minutes) if locked else Texts()("login.wrong")
            fresh = secrets.token_urlsafe(24)
            response = page(request, "login.html", {"csrf_token": fresh, "error": error}, status)
            set_cookie(request, response, LOGIN_COOKIE, fresh)
            return response
        response = RedirectResponse("/console", status_code=303)
        set_cookie(request, response, SESSION_COOKIE, token)
        response.delete_cookie(LOGIN_COOKIE, path="/console")
        return response

    async def logout(request: Request) -> Response:
        _, refusal = await signed_in_form(request)
        if refusal is not None:
            return refusal
        auth.logout(request.cookies.get(SESSION_COOKIE))
        response = RedirectResponse("/console/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/console")
        return response

    # -- queue and detail -----------------------------------------------------------------
    def filters_of(request: Request) -> Dict[str, Optional[str]]:
        params = request.query_params
        allowed = {"status": STATUSES, "channel": CHANNELS, "priority": PRIORITIES}
        result: Dict[str, Optional[str]] = {}
        for key, values in allowed.items():
            value = params.get(key) or None
            result[key] = value if value in values else None
        topic = params.get("topic") or None
        result["topic"] = topic if topic and len(topic) < 64 else None
        return result

    async def queue(request: Request) -> Response:
        session = current(request)
        if session is None:
            return to_login(request)
        filters = filters_of(request)
        handoffs = store.list(**filters)
        assignees = feedback.assignees()
        mine = request.query_params.get("mine") == "1"
        if mine:
            handoffs = [h for h in handoffs if assignees.get(h.id) == session[0].name
                        or (h.claimed_by == session[0].name and h.id not in assignees)]
        return page(request, "queue.html", {
            "staff": session[0], "csrf_token": session[1], "handoffs": handoffs, "filters": filters,
            "assignees": assignees, "mine": mine,
            "statuses": STATUSES, "channels": CHANNELS, "priorities": PRIORITIES, "topics": store.topics(),
            "latest_id": store.latest_id(),
        })

    def handoff_id_of(request: Request) -> int:
        found = parse_id(request.path_params.get("handoff_id"))
        if found is None:
            raise HTTPException(404)
        return found

    async def detail(request: Request) -> Response:
        session = current(request)
        if session is None:
            return to_login(request)
        handoff = store.get(handoff_id_of(request))
        if handoff is None:
            raise HTTPException(404)
        extra = detail_context(handoff, session[0], texts_of(request))
        return page(request, "detail.html", {
            **extra,
            "staff": session[0], "csrf_token": session[1], "h": handoff, "max_upload_mb": limit_mb,
            "form_token": secrets.token_urlsafe(16),
            "notice": notice_text(request.query_params.get("notice", ""), handoff, texts_of(request),
                                  extra.get("assignee")),
            "ok": request.query_params.get("ok", "1") == "1",
        })

    async def act(request: Request) -> Response:
        uploads: list = []
        signed_in, refusal = await signed_in_form(request, uploads if request.path_params["action"] == "reply"
                                                  else None)
        if refusal is not None:
            return refusal
        who, form = signed_in
        handoff_id = handoff_id_of(request)
        if store.get(handoff_id) is None:
            raise HTTPException(404)
        staff = who.name
        key = form.get("form_token") or None
        action = request.path_params["action"]
        if action == "claim":
            result = store.claim(handoff_id, staff, key)
        elif action == "reply":
            result = store.reply(handoff_id, staff, form.get("text", ""), key, files=uploads)
        elif action == "resolve":
            result = store.resolve(handoff_id, staff, key, form.get("note", ""))
        elif action == "hand-back":
            result = store.hand_back(handoff_id, staff, key)
        else:
            raise HTTPException(404)
        query = urlencode({"notice": result.code, "ok": "1" if result.ok else "0"})
        return RedirectResponse(f"/console/handoffs/{handoff_id}?{query}", status_code=303)

    # -- files -----------------------------------------------------------------------------
    def file_of(request: Request):
        if store.files is None:
            raise HTTPException(404)
        file_id = parse_id(request.path_params.get("file_id"))
        if file_id is None:
            raise HTTPException(404)
        try:
            view = store.files.get(file_id)
        except KeyError:
            raise HTTPException(404)
        if view is None or not view.stored:
            raise HTTPException(404)
        return view

    async def download(request: Request) -> Response:
        """A conversation's file, always as a download."""
        session = current(request)
        if session is None:
            return to_login(request)
        view = file_of(request)
        try:
            data = await asyncio.to_thread(store.files.read, view)
        except OSError:
            raise HTTPException(404)
        logs.event(log, "file_downloaded", staff=session[0].name, file_id=view.id, conversation_id=view.conversation_id)
        return Response(data, media_type="application/octet-stream", headers={
            "Content-Disposition": content_disposition("attachment", view.filename),
            "X-Content-Type-Options": "nosniff", "Content-Security-Policy": FILE_CSP,
            "Cache-Control": "private, no-store"})

    async def preview(request: Request) -> Response:
        """An image, inline, only when its bytes are PNG, JPEG, GIF or WebP."""
        if current(request) is None:
            return to_login(request)
        view = file_of(request)
        if view.preview_type not in PREVIEW_TYPES:
            raise HTTPException(404)
        try:
            data = await asyncio.to_thread(store.files.read, view)
        except OSError:
            raise HTTPException(404)
        if sniff_image(data[:16]) != view.preview_type:
            raise HTTPException(404)
        return Response(data, media_type=view.preview_type, headers={
            "Content-Disposition": content_disposition("inline", view.filename),
            "X-Content-Type-Options": "nosniff", "Content-Security-Policy": FILE_CSP,
            "Cache-Control": "private, no-store"})

    # -- API and live updates -------------------------------------------------------------
    def summary(h, t: Texts = Texts()) -> Dict[str, Any]:
        """A handoff for the API and the live queue; the *_label fields in the staff's language."""
        return {"id": h.id, "channel": h.channel, "topic": h.topic, "priority": h.priority, "status": h.status,
                "sender": h.sender, "customer": h.customer_name, "subject": h.subject,
                "created_at": h.created_at.isoformat(), "sla": h.sla.badge, "sla_label": t.sla(h.sla),
                "created_label": t.datetime(h.created_at), "topic_label": t.term("topics", h.topic),
                "channel_label": t.term("channels", h.channel), "priority_label": t.term("priorities", h.priority),
                "status_label": t.term("statuses", h.status),
                "customer_label": h.customer_name or t("queue.unknown_sender"),
                "subject_label": h.subject or t("queue.no_subject"),
                "new_label": t("live.new", id=h.id, topic=t.term("topics", h.topic))}

    async def api_list(request: Request) -> Response:
        if current(request) is None:
            return to_login(request)
        return JSONResponse([summary(h, texts_of(request)) for h in store.list(**filters_of(request))])

    def delivery(d, t: Texts = Texts()) -> Dict[str, Any]:
        return {"id": d.id, "handoff_id": d.handoff_id, "kind": d.kind, "what": t.delivery_what(d),
                "status": d.status, "label": t.delivery(d), "note": d.note}

    async def events(request: Request) -> Response:
        """Server-sent events: new handoffs (the queue page), and with ?handoff=ID the
        delivery state of that handoff's replies and hand-backs (its detail page)."""
        if current(request) is None:
            return to_login(request)
        t = texts_of(request)
        watched = parse_id(request.query_params.get("handoff"))
        after = request.query_params.get("after")
        last = store.latest_id() if not after else (0 if after == "0" else parse_id(after))
        if last is None:
            last = store.latest_id()
        seen: Dict[int, str] = {}

        async def stream():
            nonlocal last
            yield ": connected\n\n"
            while True:
                if await request.is_disconnected():
                    break
                try:
                    fresh = [] if watched is not None else await asyncio.to_thread(store.created_after, last)
                    deliveries = await asyncio.to_thread(store.deliveries, watched) if watched is not None else []
                except StoreUnavailable:
                    fresh, deliveries = [], []
                for h in fresh:
                    last = max(last, h.id)
                    yield f"event: handoff\nid: {h.id}\ndata: {json.dumps(summary(h, t))}\n\n"
                for d in deliveries:
                    if seen.get(d.id) != d.label:
                        seen[d.id] = d.label
                        yield f"event: delivery\ndata: {json.dumps(delivery(d, t))}\n\n"
                await asyncio.sleep(poll_seconds)

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    feature_routes, detail_context, feedback = console_features(
        store, auth, Helpers(page=page, current=current, to_login=to_login, signed_in_form=signed_in_form,
                             role_refused=role_refused, texts_of=texts_of, parse_id=parse_id),
        knowledge_dir=knowledge_dir, customers=customers)

    helpers = Helpers(page=page, current=current, to_login=to_login, signed_in_form=signed_in_form,
                      role_refused=role_refused, texts_of=texts_of, parse_id=parse_id)
    feature_routes += kb_routes(store, helpers, knowledge_dir)

    async def root(request: Request) -> Response:
        return RedirectResponse("/console", status_code=303)

    # -- errors ---------------------------------------------------------------------------
    async def not_found(request: Request, exc: HTTPException) -> Response:
        t = texts_of(request)
        if exc.status_code == 404:
            return page(request, "error.html", {"title": t("errors.not_found_title"),
                                                "message": t("errors.not_found")}, 404)
        if exc.status_code == 413:
            return page(request, "error.html", {"title": t("errors.too_large_title"), "message": exc.detail}, 413)
        return page(request, "error.html", {"title": t("errors.error_title", status=exc.status_code),
                                            "message": str(exc.detail)}, exc.status_code)

    async def store_down(request: Request, exc: Exception) -> Response:
        logs.event(log, "console_store_unavailable", logging.ERROR, path=request.url.path, error=str(exc))
        t = texts_of(request)
        return page(request, "error.html", {"title": t("errors.store_title"), "message": t("errors.store")}, 503)

    return Starlette(
        middleware=[Middleware(SecurityHeaders)],
        routes=[
            Route("/", root),
            Route("/console", queue),
            Route("/console/", queue),
            Route("/console/login", login_page, methods=["GET"]),
            Route("/console/login", login, methods=["POST"]),
            Route("/console/logout", logout, methods=["POST"]),
            *feature_routes,
            Route("/console/handoffs/{handoff_id}", detail),
            Route("/console/handoffs/{handoff_id}/{action}", act, methods=["POST"]),
            Route("/console/attachments/{file_id}", download),
            Route("/console/attachments/{file_id}/preview", preview),
            Route("/console/api/handoffs", api_list),
            Route("/console/events", events),
            Mount("/console/static", StaticFiles(directory=str(HERE / "static")), name="static"),
            *extra_routes,
        ],
        exception_handlers={HTTPException: not_found, StoreUnavailable: store_down, OperationalError: store_down},
    )


class SecurityHeaders:
    """ASGI middleware: CSP and friends on every response."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Security-Policy", CSP)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "same-origin")
                if "text/html" in headers.get("content-type", ""):
                    headers.setdefault("Cache-Control", "no-store")
            await send(message)

        await self.app(scope, receive, send_with_headers)
