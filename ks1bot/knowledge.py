"""The knowledge base: Markdown articles with YAML front matter, found by embeddings.

An article file `data/knowledge/<id>.<language>.md`:

    ---
    id: update-tool
    title: Updates über das KS1 Update Tool
    language: de
    topics: [update_question]
    questions:
      - Wie bekomme ich Updates für KS1?
    ---
    The answer text, sent as the reply.

A message is compared with every question (and the title) of the articles for its
topic, in both languages; the best similarity is the article's score. The similarity
mixes the sentence-embedding cosine with a character n-gram TF-IDF cosine
(EMBEDDING_WEIGHT): the n-grams pick the right article more often for German text and
compound words, where an English embedding model is weak (calibration set: top-1
0.88 → 0.97). Whether a score is good enough is the routing's decision
(thresholds.knowledge in settings.yml, from `ks1bot kb calibrate`).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np
import yaml

from ks1bot.embeddings import unpack_vector
from ks1bot.text import single_line
from ks1bot.topics import KNOWLEDGE_TOPICS

log = logging.getLogger(__name__)

#: Share of the sentence-embedding cosine in the similarity; the rest is the character
#: n-gram TF-IDF cosine.
EMBEDDING_WEIGHT = 0.7


class ArticleError(Exception):
    """An article file that cannot be used; the message names the file and the fix."""


@dataclass(frozen=True)
class Article:
    id: str
    language: str
    title: str
    topics: Tuple[str, ...]
    questions: Tuple[str, ...]
    body: str
    path: Optional[Path] = None


@dataclass(frozen=True)
class KnowledgeHit:
    """The best article for a message, with its similarity score."""

    article_id: str
    title: str
    language: str
    body: str
    score: float
    #: The question of the article the message was closest to.
    matched_question: str


def parse_article(text: str, path: Optional[Path] = None) -> Article:
    where = str(path) if path else "article"
    if not text.startswith("---"):
        raise ArticleError(f"{where} must start with a '---' line and YAML front matter.")
    parts = text.split("\n---", 1)
    if len(parts) != 2:
        raise ArticleError(f"{where} has no closing '---' line after its front matter.")
    try:
        meta = yaml.safe_load(parts[0][3:]) or {}
    except yaml.YAMLError as exc:
        raise ArticleError(f"{where} has invalid YAML front matter ({exc}).") from exc
    if not isinstance(meta, dict):
        raise ArticleError(f"{where}: the front matter must be a YAML mapping.")
    body = parts[1].split("\n", 1)[1].strip() if "\n" in parts[1] else ""
    missing = [k for k in ("id", "title", "language", "topics", "questions") if not meta.get(k)]
    if missing:
        raise ArticleError(f"{where} lacks {', '.join(missing)} in its front matter.")
    if meta["language"] not in ("de", "en"):
        raise ArticleError(f"{where}: language must be de or en.")
    topics = tuple(meta["topics"]) if isinstance(meta["topics"], list) else (str(meta["topics"]),)
    wrong = [t for t in topics if t not in KNOWLEDGE_TOPICS]
    if wrong:
        raise ArticleError(
            f"{where}: topic {', '.join(map(str, wrong))} cannot be answered from the knowledge base; "
            f"use {', '.join(sorted(KNOWLEDGE_TOPICS))}."
        )
    if not body:
        raise ArticleError(f"{where} has no answer text after the front matter.")
    questions = tuple(str(q).strip() for q in meta["questions"] if str(q).strip())
    return Article(
        id=str(meta["id"]).strip(),
        language=meta["language"],
        title=str(meta["title"]).strip(),
        topics=topics,
        questions=questions,
        body=body,
        path=path,
    )


def load_articles(directory: Path) -> Tuple[List[Article], List[str]]:
    """All articles in `directory`, and a problem sentence for each file that was skipped."""
    articles: List[Article] = []
    problems: List[str] = []
    if not Path(directory).is_dir():
        return [], [f"The knowledge directory {directory} does not exist; no article can be used."]
    for path in sorted(Path(directory).glob("*.md")):
        try:
            articles.append(parse_article(path.read_text(encoding="utf-8"), path))
        except (ArticleError, OSError, UnicodeDecodeError) as exc:
            problems.append(str(exc))
    return articles, problems


class KnowledgeBase:
    """Articles indexed by the embeddings of their questions and titles."""

    def __init__(self, articles: Iterable[Article], embedder) -> None:
        self.articles: List[Article] = list(articles)
        self._embedder = embedder
        self._rows: List[Tuple[int, str]] = []  # (article index, question text)
        for index, article in enumerate(self.articles):
            for question in (article.title,) + article.questions:
                self._rows.append((index, question))
        self._matrix: Optional[np.ndarray] = None
        self._lexical = None
        self._lexical_matrix = None

    @classmethod
    def load(cls, directory: Path, embedder) -> "KnowledgeBase":
        articles, problems = load_articles(directory)
        for problem in problems:
            log.warning('{"event": "knowledge_article_skipped", "problem": %s}', _json(problem))
        return cls(articles, embedder)

    def _index(self) -> np.ndarray:
        if self._matrix is None:
            texts = [question for _, question in self._rows]
            self._matrix = self._embedder.encode(texts) if texts else np.zeros((0, 1), np.float32)
            if texts:
                from sklearn.feature_extraction.text import TfidfVectorizer

                self._lexical = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True)
                self._lexical_matrix = self._lexical.fit_transform(texts)
        return self._matrix

    def _similarities(self, text: str) -> np.ndarray:
        """Similarity of `text` to every question row."""
        matrix = self._index()
        if not len(self._rows):
            return np.zeros(0)
        semantic = matrix @ self._embedder.encode([text])[0]
        lexical = (self._lexical_matrix @ self._lexical.transform([text]).T).toarray().ravel()
        return EMBEDDING_WEIGHT * semantic + (1 - EMBEDDING_WEIGHT) * lexical

    def remember_query(self, text: str, packed: Any) -> bool:
        """Reuse the vector the Rasa NLU made for `text` (`embeddings.pack_vector`) when it
        comes from the same model and settings as ours; False when it cannot be used."""
        vector = unpack_vector(packed, self._embedder.signature)
        return vector is not None and self._embedder.remember(single_line(text), vector)

    def article(self, article_id: str, language: str) -> Optional[Article]:
        """The article in `language`, else in any language."""
        same = [a for a in self.articles if a.id == article_id]
        for article in same:
            if article.language == language:
                return article
        return same[0] if same else None

    def search(self, text: str, topic: str, language: str) -> Optional[KnowledgeHit]:
        """The best article for `topic`, in `language` where it exists; None if there is none."""
        candidates = [i for i, (a, _) in enumerate(self._rows) if topic in self.articles[a].topics]
        if not candidates or not text.strip():
            return None
        scores = self._similarities(text)[candidates]
        best = int(np.argmax(scores))
        article_index, question = self._rows[candidates[best]]
        found = self.articles[article_index]
        article = self.article(found.id, language) or found
        return KnowledgeHit(
            article_id=article.id,
            title=article.title,
            language=article.language,
            body=article.body,
            score=float(scores[best]),
            matched_question=question,
        )

    def scores(self, text: str, topic: Optional[str] = None) -> Dict[str, float]:
        """Best score per article id (for calibration and diagnostics)."""
        values = self._similarities(text)
        best: Dict[str, float] = {}
        for (article_index, _), value in zip(self._rows, values):
            article = self.articles[article_index]
            if topic is not None and topic not in article.topics:
                continue
            best[article.id] = max(best.get(article.id, -1.0), float(value))
        return best


def _json(value: str) -> str:
    import json

    return json.dumps(value, ensure_ascii=False)
