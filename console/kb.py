"""The knowledge base in the console (role lead): list, edit the German/English pair of an
article (title, questions, Markdown body) with a preview, every save kept as a version.

Markdown is rendered safely for the preview: the source's `&` and `<` are escaped first
(raw HTML in an article is shown as text, never run), and only http(s)/mailto/relative
links survive; the page's CSP allows no inline script anyway."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Dict, List, Optional

import markdown
from markupsafe import Markup
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from ks1bot.conversations.knowledge_edits import ARTICLE_ID, ArticleDraft, KnowledgeEdits
from ks1bot.core.topics import KNOWLEDGE_TOPICS

LINK = re.compile(r'\b(href|src)="([^"]*)"')
SAFE_LINK = re.compile(r"^(https?:|mailto:|/|#)", re.IGNORECASE)


def render_markdown(source: str) -> Markup:
    escaped = (source or "").replace("&", "&amp;").replace("<", "&lt;")
    html = markdown.markdown(escaped, extensions=["sane_lists"], output_format="html")
    html = LINK.sub(lambda m: f'{m.group(1)}="{m.group(2)}"' if SAFE_LINK.match(m.group(2)) else f'{m.group(1)}="#"',
                    html)
    return Markup(html)


def kb_routes(store, helpers, knowledge_dir: Optional[Path]) -> List[Route]:
    h = helpers

    def edits() -> KnowledgeEdits:
        if knowledge_dir is None:
            raise HTTPException(404)
        return KnowledgeEdits(store.engine, Path(knowledge_dir), clock=store.clock)

    def lead_only(request: Request) -> Optional[Response]:
        session = h.current(request)
        if session is None:
            return h.to_login(request)
        if not session[0].is_lead:
            return h.role_refused(request)
        return None

    def form_of_articles(article_id: str, pair) -> Dict[str, Any]:
        fields: Dict[str, Any] = {"article_id": article_id, "topics": set()}
        for language in ("de", "en"):
            article = pair.get(language)
            fields[f"title_{language}"] = article.title if article else ""
            fields[f"questions_{language}"] = "\n".join(article.questions) if article else ""
            fields[f"body_{language}"] = article.body if article else ""
            if article:
                fields["topics"].update(article.topics)
        return fields

    def editor(request: Request, fields: Dict[str, Any], *, new: bool, problems=(), preview=False, status=200):
        previews = {lang: render_markdown(fields.get(f"body_{lang}", "")) for lang in ("de", "en")} if preview else {}
        return h.page(request, "kb_edit.html", {"form": fields, "new": new, "problems": list(problems),
                                                "previews": previews, "all_topics": sorted(KNOWLEDGE_TOPICS)}, status)

    async def listing(request: Request) -> Response:
        refusal = lead_only(request)
        if refusal is not None:
            return refusal
        return h.page(request, "kb_list.html", {"articles": edits().articles(),
                                                "saved": request.query_params.get("saved", "")})

    async def edit(request: Request) -> Response:
        refusal = lead_only(request)
        if refusal is not None:
            return refusal
        article_id = request.path_params.get("article_id", "")
        if article_id == "new":
            return editor(request, {"article_id": "", "topics": set()}, new=True)
        pair = edits().articles().get(article_id)
        if pair is None:
            raise HTTPException(404)
        return editor(request, form_of_articles(article_id, pair), new=False)

    async def versions(request: Request) -> Response:
        refusal = lead_only(request)
        if refusal is not None:
            return refusal
        article_id = request.path_params.get("article_id", "")
        if not ARTICLE_ID.match(article_id):
            raise HTTPException(404)
        return h.page(request, "kb_versions.html", {"article_id": article_id, "versions": edits().versions(article_id)})

    async def save(request: Request) -> Response:
        signed_in, refusal = await h.signed_in_form(request)
        if refusal is not None:
            return refusal
        who, _form = signed_in
        if not who.is_lead:
            return h.role_refused(request)
        form = await request.form()
        topics = [t for t in form.getlist("topics") if t in KNOWLEDGE_TOPICS]
        fields: Dict[str, Any] = {"article_id": str(form.get("article_id", "")).strip(), "topics": set(topics)}
        for language in ("de", "en"):
            for part in ("title", "questions", "body"):
                fields[f"{part}_{language}"] = str(form.get(f"{part}_{language}", ""))
        new = form.get("new") == "1"
        drafts = [ArticleDraft(language, fields[f"title_{language}"],
                               tuple(q for q in fields[f"questions_{language}"].splitlines() if q.strip()),
                               fields[f"body_{language}"]) for language in ("de", "en")]
        if form.get("action") == "preview":
            return editor(request, fields, new=new, preview=True)
        if new and fields["article_id"] in edits().articles():
            return editor(request, fields, new=True, problems=[h.texts_of(request)("kb.exists")], status=400)
        problems = edits().save(fields["article_id"], topics, drafts, who.name)
        if problems:
            return editor(request, fields, new=new, problems=problems, preview=True, status=400)
        return RedirectResponse(f"/console/kb?saved={fields['article_id']}", status_code=303)

    return [
        Route("/console/kb", listing),
        Route("/console/kb/save", save, methods=["POST"]),
        Route("/console/kb/{article_id}/versions", versions),
        Route("/console/kb/{article_id}", edit),
    ]
