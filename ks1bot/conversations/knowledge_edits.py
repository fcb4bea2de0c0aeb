"""Knowledge-base articles edited in the console. The files in the knowledge directory stay
the format and what the bot reads (`ks1bot kb check` validates them; the action server and
the mail gateway reload changed files: nlu.knowledge.LiveKnowledgeBase). Every save writes
the German/English pair of files (atomically: temporary file, then rename) and keeps each
file's text as a new version row, so every save can be looked at again."""
from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import yaml
from sqlalchemy import func, select

from ks1bot.conversations.db import session_factory, utc
from ks1bot.conversations.feedback_models import KbVersion
from ks1bot.core.messages import now_utc
from ks1bot.nlu.knowledge import Article, ArticleError, load_articles, parse_article

ARTICLE_ID = re.compile(r"^[a-z0-9][a-z0-9-]{1,60}$")


@dataclass(frozen=True)
class ArticleDraft:
    """One language of an article as the editor sends it."""

    language: str
    title: str
    questions: Tuple[str, ...]
    body: str


@dataclass(frozen=True)
class VersionView:
    article_id: str
    language: str
    version: int
    text: str
    author: str
    at: dt.datetime


def article_text(article_id: str, topics: Sequence[str], draft: ArticleDraft) -> str:
    """The file text in data/knowledge's format (YAML front matter, Markdown body)."""
    meta = {"id": article_id, "title": draft.title.strip(), "language": draft.language, "topics": list(topics),
            "questions": [q.strip() for q in draft.questions if q.strip()]}
    front = yaml.safe_dump(meta, allow_unicode=True, sort_keys=False, width=10000)
    return f"---\n{front}---\n{draft.body.strip()}\n"


class KnowledgeEdits:
    def __init__(self, engine, directory: Path, clock: Callable[[], dt.datetime] = now_utc) -> None:
        self.Session = session_factory(engine)
        self.directory = Path(directory)
        self.clock = clock

    def articles(self) -> Dict[str, Dict[str, Article]]:
        """id → language → article, from the files."""
        found, _problems = load_articles(self.directory)
        result: Dict[str, Dict[str, Article]] = {}
        for article in found:
            result.setdefault(article.id, {})[article.language] = article
        return dict(sorted(result.items()))

    def check(self, article_id: str, topics: Sequence[str], drafts: Sequence[ArticleDraft]) -> List[str]:
        """Problems that stop a save (one sentence each), the same checks `ks1bot kb check` makes."""
        problems = []
        if not ARTICLE_ID.match(article_id or ""):
            problems.append("The article id has 2 to 61 lower-case letters, digits or hyphens (e.g. month-end-closing).")
            return problems
        for draft in drafts:
            try:
                parse_article(article_text(article_id, topics, draft), Path(f"{article_id}.{draft.language}.md"))
            except ArticleError as exc:
                problems.append(str(exc))
        return problems

    def save(self, article_id: str, topics: Sequence[str], drafts: Sequence[ArticleDraft], author: str) -> List[str]:
        """Write the files and keep a version of each; returns problems (nothing written then)."""
        problems = self.check(article_id, topics, drafts)
        if problems:
            return problems
        now = self.clock()
        texts = {d.language: article_text(article_id, topics, d) for d in drafts}
        with self.Session.begin() as session:
            for language, text in texts.items():
                path = self.directory / f"{article_id}.{language}.md"
                if not session.execute(select(KbVersion.id).where(KbVersion.article_id == article_id,
                                                                  KbVersion.language == language)).first() \
                        and path.exists():  # the seed file is version 1
                    session.add(KbVersion(article_id=article_id, language=language, version=1,
                                          text=path.read_text(encoding="utf-8"), author="data/knowledge", at=now))
                    session.flush()
                latest = session.execute(select(func.max(KbVersion.version)).where(
                    KbVersion.article_id == article_id, KbVersion.language == language)).scalar() or 0
                session.add(KbVersion(article_id=article_id, language=language, version=latest + 1, text=text,
                                      author=author, at=now))
            session.flush()
            for language, text in texts.items():  # the files last: a failed commit raises before
                path = self.directory / f"{article_id}.{language}.md"
                temporary = path.with_name(f".{path.name}.tmp")
                temporary.write_text(text, encoding="utf-8")
                os.replace(temporary, path)
        return []

    def versions(self, article_id: str) -> List[VersionView]:
        with self.Session() as session:
            return [VersionView(r.article_id, r.language, r.version, r.text, r.author, utc(r.at))
                    for r in session.execute(select(KbVersion).where(KbVersion.article_id == article_id)
                                             .order_by(KbVersion.version.desc(), KbVersion.language)).scalars()]
