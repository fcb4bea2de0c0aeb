"""The console's working features (issue 15): language per staff member, search, the bot's
decisions and one-click corrections, internal notes, assignment, text modules and
knowledge-base articles for a reply, the learning review (lead) and the customer page.

`console_features(...)` returns the routes and the extra context of a handoff's page;
console.app mounts them with its own helpers (login, CSRF, pages, roles)."""
from __future__ import annotations

import datetime as dt
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence
from urllib.parse import urlencode

import yaml
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from console.i18n import LANGUAGES, Texts
from ks1bot.conversations.feedback import ROUTES, CorrectionError, Feedback
from ks1bot.conversations.search import search_handoffs
from ks1bot.core.preparation import prepare
from ks1bot.core.replies import format_opening
from ks1bot.core.topics import TOPICS

HERE = Path(__file__).parent
MODULES_FILE = HERE / "texts" / "modules.yml"
MAX_QUERY = 200


@dataclass(frozen=True)
class Helpers:
    """What console.app lends the features (its closures over the app's settings)."""

    page: Callable[..., Response]
    current: Callable[[Request], Any]
    to_login: Callable[[Request], Response]
    signed_in_form: Callable[..., Any]
    role_refused: Callable[[Request], Response]
    texts_of: Callable[[Request], Texts]
    parse_id: Callable[[Optional[str]], Optional[int]]


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def fill_placeholders(text: str, values: Dict[str, str]) -> str:
    """Fill {kunde}/{customer_name}, {naechste_oeffnung}/{next_opening},
    {mitarbeiter}/{staff_name}; unknown placeholders stay as they are."""
    return string.Formatter().vformat(text, (), _Blank(values))


def load_modules(path: Path = MODULES_FILE) -> Dict[str, List[Dict[str, str]]]:
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


def console_features(store, auth, helpers: Helpers, knowledge_dir: Optional[Path] = None, customers=None):
    """(routes, detail_context) — `customers`: the customer directory (ks1bot.core.customers), or None."""
    feedback = Feedback(store.engine, clock=store.clock)
    h = helpers

    def back_to(handoff_id: int, code: str, ok: bool = True) -> Response:
        query = urlencode({"notice": code, "ok": "1" if ok else "0"})
        return RedirectResponse(f"/console/handoffs/{handoff_id}?{query}", status_code=303)

    def handoff_of(request: Request):
        found = h.parse_id(request.path_params.get("handoff_id"))
        view = store.get(found) if found is not None else None
        if view is None:
            raise HTTPException(404)
        return view

    def articles(language: str):
        if knowledge_dir is None:
            return []
        from ks1bot.nlu.knowledge import load_articles

        found, _problems = load_articles(Path(knowledge_dir))
        chosen = [a for a in found if a.language == language] or found
        return sorted(chosen, key=lambda a: a.title)

    def placeholders(handoff, staff) -> Dict[str, str]:
        now = store.clock()
        hours = store.hours
        language = handoff.language if handoff.language in ("de", "en") else "de"
        opening = now if hours.is_open(now) else hours.next_opening(now)
        opening_text = format_opening(opening.astimezone(hours.zone) if hasattr(hours, "zone") else opening,
                                      language)
        name = handoff.customer_name or ("Kundin, Kunde" if language == "de" else "customer")
        return {"kunde": name, "customer_name": name, "naechste_oeffnung": opening_text,
                "next_opening": opening_text, "mitarbeiter": staff.name, "staff_name": staff.name}

    def detail_context(handoff, staff, t: Texts) -> Dict[str, Any]:
        values = placeholders(handoff, staff)
        language = handoff.language if handoff.language in ("de", "en") else "de"
        modules = [{"title": m["title"], "text": fill_placeholders(m["text"], values)}
                   for m in load_modules().get(language, [])]
        decisions = feedback.decisions_of(handoff.channel, handoff.conversation_id)
        return {
            "notes": feedback.notes(handoff.id),
            "assignee": feedback.assignees([handoff.id]).get(handoff.id),
            "colleagues": auth.list_staff(),
            "corrections": feedback.corrections(handoff_id=handoff.id),
            "decisions": decisions,
            "text_modules": modules,
            "kb_articles": [{"title": a.title, "text": a.body} for a in articles(language)],
            "all_topics": TOPICS, "all_routes": ROUTES,
        }

    # -- language --------------------------------------------------------------------------
    async def set_language(request: Request) -> Response:
        signed_in, refusal = await h.signed_in_form(request)
        if refusal is not None:
            return refusal
        who, form = signed_in
        language = form.get("language", "")
        if language in LANGUAGES:
            auth.set_language(who.id, language)
        target = form.get("next", "/console")
        if not target.startswith("/console") or target.startswith("//") or "\\" in target:
            target = "/console"
        return RedirectResponse(target, status_code=303)

    # -- corrections -----------------------------------------------------------------------
    def correction_fields(form: Dict[str, str]):
        return form.get("topic", ""), form.get("route", ""), form.get("kb_gap") == "1"

    async def correct_handoff(request: Request) -> Response:
        signed_in, refusal = await h.signed_in_form(request)
        if refusal is not None:
            return refusal
        who, form = signed_in
        handoff = handoff_of(request)
        topic, route, kb_gap = correction_fields(form)
        decisions = feedback.decisions_of(handoff.channel, handoff.conversation_id)
        decision = next((d for d in reversed(decisions) if d.handoff_id in (None, handoff.id)), None)
        if decision is not None:
            text, old_topic, old_route = decision.text, decision.topic, decision.route
        else:  # a handoff from before decisions were recorded: prepare its first text as the NLU would
            from ks1bot.core.messages import InboundMessage

            text = prepare(InboundMessage(id=f"h{handoff.id}", channel=handoff.channel, text=handoff.first_text or "",
                                          received_at=handoff.created_at, sender=handoff.sender,
                                          subject=None)).text
            old_topic, old_route = handoff.topic, "handoff"
        try:
            feedback.correct(who.name, topic, route, text=text, channel=handoff.channel,
                             conversation_id=handoff.conversation_id, old_topic=old_topic, old_route=old_route,
                             language=handoff.language, decision_id=decision.id if decision else None,
                             handoff_id=handoff.id, kb_gap=kb_gap)
        except CorrectionError:
            return back_to(handoff.id, "correction_invalid", ok=False)
        return back_to(handoff.id, "correction_saved")

    async def correct_decision(request: Request) -> Response:
        signed_in, refusal = await h.signed_in_form(request)
        if refusal is not None:
            return refusal
        who, form = signed_in
        decision_id = h.parse_id(request.path_params.get("decision_id"))
        decision = feedback.decision(decision_id) if decision_id else None
        if decision is None:
            raise HTTPException(404)
        topic, route, kb_gap = correction_fields(form)
        code = "correction_saved"
        try:
            feedback.correct(who.name, topic, route, text=decision.text, channel=decision.channel,
                             conversation_id=decision.conversation_id, old_topic=decision.topic,
                             old_route=decision.route, language=decision.language, decision_id=decision.id,
                             handoff_id=decision.handoff_id, kb_gap=kb_gap)
        except CorrectionError:
            code = "correction_invalid"
        return RedirectResponse(f"/console/decisions?{urlencode({'notice': code})}#d{decision.id}", status_code=303)

    async def decisions_page(request: Request) -> Response:
        if h.current(request) is None:
            return h.to_login(request)
        route = request.query_params.get("route") or None
        route = route if route in ROUTES else None
        t = h.texts_of(request)
        code = request.query_params.get("notice", "")
        notice = t(f"notices.{code}") if code in ("correction_saved", "correction_invalid") else ""
        return h.page(request, "decisions.html", {
            "decisions": feedback.decisions(route=route), "route": route, "all_routes": ROUTES,
            "all_topics": TOPICS, "notice": notice, "ok": code == "correction_saved"})

    # -- notes and assignment --------------------------------------------------------------
    async def add_note(request: Request) -> Response:
        signed_in, refusal = await h.signed_in_form(request)
        if refusal is not None:
            return refusal
        who, form = signed_in
        handoff = handoff_of(request)
        note = feedback.add_note(handoff.id, who.name, form.get("text", ""))
        return back_to(handoff.id, "note_saved" if note else "note_empty", ok=note is not None)

    async def assign(request: Request) -> Response:
        signed_in, refusal = await h.signed_in_form(request)
        if refusal is not None:
            return refusal
        who, form = signed_in
        handoff = handoff_of(request)
        name = form.get("staff", "")
        if name not in auth.list_staff():
            return back_to(handoff.id, "assign_unknown", ok=False)
        feedback.assign(handoff.id, name, who.name)
        return back_to(handoff.id, "assigned")

    # -- search ----------------------------------------------------------------------------
    async def search(request: Request) -> Response:
        if h.current(request) is None:
            return h.to_login(request)
        query = (request.query_params.get("q") or "")[:MAX_QUERY]
        ids = search_handoffs(store.engine, query) if query.strip() else []
        found = [v for v in (store.get(i) for i in ids) if v is not None]
        return h.page(request, "search.html", {"q": query, "results": found})

    # -- learning review (lead) -------------------------------------------------------------
    async def learn_page(request: Request) -> Response:
        session = h.current(request)
        if session is None:
            return h.to_login(request)
        if not session[0].is_lead:
            return h.role_refused(request)
        pending = [c for c in feedback.corrections(unexported=True)]
        return h.page(request, "learn.html", {
            "corrections": pending, "drafts": feedback.corrections(kb_gap=True),
            "per_topic": sorted(feedback.per_topic().items(), key=lambda kv: -kv[1]),
            "saved": request.query_params.get("saved") == "1"})

    async def review(request: Request) -> Response:
        signed_in, refusal = await h.signed_in_form(request)
        if refusal is not None:
            return refusal
        who, form = signed_in
        if not who.is_lead:
            return h.role_refused(request)
        correction_id = h.parse_id(request.path_params.get("correction_id"))
        if correction_id is None or form.get("review") not in ("accepted", "dropped", "pending"):
            raise HTTPException(404)
        if not feedback.set_review(correction_id, form["review"]):
            raise HTTPException(404)
        return RedirectResponse("/console/learn?saved=1", status_code=303)

    # -- customer page ----------------------------------------------------------------------
    async def customer_page(request: Request) -> Response:
        if h.current(request) is None:
            return h.to_login(request)
        customer_id = request.path_params.get("customer_id", "")
        if not customer_id or len(customer_id) > 64:
            raise HTTPException(404)
        customer = customers.by_id(customer_id) if customers is not None and hasattr(customers, "by_id") else None
        if customer is None and customers is not None:
            customer = next((c for c in customers.customers if c.customer_id == customer_id), None)
        from ks1bot.conversations.search import handoffs_of_customer

        ids = handoffs_of_customer(store.engine, customer_id)
        if customer is None and not ids:
            raise HTTPException(404)
        conversations = [v for v in (store.get(i) for i in ids) if v is not None]
        bot_only = feedback.decisions_of_customer(customer_id)
        return h.page(request, "customer.html", {"customer": customer, "customer_id": customer_id,
                                                 "conversations": conversations, "bot_decisions": bot_only})

    # -- dashboard (lead) --------------------------------------------------------------------
    def period_of(request: Request):
        from console.i18n import berlin

        today = berlin(store.clock()).date()

        def day(name: str, default: dt.date) -> dt.date:
            try:
                return dt.date.fromisoformat(request.query_params.get(name, ""))
            except ValueError:
                return default

        until = day("to", today)
        since = day("from", until - dt.timedelta(days=13))
        if since > until:
            since, until = until, since
        if (until - since).days > 366:
            since = until - dt.timedelta(days=366)
        return since, until

    async def dashboard_page(request: Request) -> Response:
        session = h.current(request)
        if session is None:
            return h.to_login(request)
        if not session[0].is_lead:
            return h.role_refused(request)
        from console.charts import ROUTE_COLOURS, horizontal_bars, stacked_bars
        from ks1bot.conversations.reports import dashboard

        t = h.texts_of(request)
        since, until = period_of(request)
        figures = dashboard(store.engine, since, until, store.clock())
        routes = [r for r in ROUTES]
        per_day = stacked_bars(t("dashboard.per_day"), [t.day(d) for d in figures.days],
                               [(t.term("routes", r), ROUTE_COLOURS[r], [figures.per_day_route[d][r] for d in figures.days])
                                for r in routes])
        channels = sorted(figures.per_channel_route)
        per_channel = stacked_bars(t("dashboard.per_channel"), [t.term("channels", c) for c in channels],
                                   [(t.term("routes", r), ROUTE_COLOURS[r],
                                     [figures.per_channel_route[c][r] for c in channels]) for r in routes],
                                   width=560)
        error_rows = [(t.term("topics", topic), n / total if total else 1.0,
                       f"{t.percent(n / total) if total else '–'} ({n}/{total})")
                      for topic, (n, total) in sorted(figures.corrections.items(), key=lambda kv: -kv[1][0])]
        errors = horizontal_bars(t("dashboard.corrections"), error_rows)
        return h.page(request, "dashboard.html", {"f": figures, "since": since, "until": until,
                                                  "per_day": per_day, "per_channel": per_channel, "errors": errors,
                                                  "channels": channels, "routes": routes})

    routes = [
        Route("/console/dashboard", dashboard_page),
        Route("/console/language", set_language, methods=["POST"]),
        Route("/console/search", search),
        Route("/console/decisions", decisions_page),
        Route("/console/decisions/{decision_id}/correct", correct_decision, methods=["POST"]),
        Route("/console/handoffs/{handoff_id}/correct", correct_handoff, methods=["POST"]),
        Route("/console/handoffs/{handoff_id}/note", add_note, methods=["POST"]),
        Route("/console/handoffs/{handoff_id}/assign", assign, methods=["POST"]),
        Route("/console/learn", learn_page),
        Route("/console/learn/{correction_id}/review", review, methods=["POST"]),
        Route("/console/customers/{customer_id}", customer_page),
    ]
    return routes, detail_context, feedback
