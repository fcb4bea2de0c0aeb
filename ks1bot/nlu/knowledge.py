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
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Tuple

import numpy as np
import yaml

from ks1bot.core.routing import KnowledgeHit
from ks1bot.core.text import single_line
from ks1bot.core.topics import KNOWLEDGE_TOPICS
from ks1bot.nlu.embeddings import unpack_vector

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
        return self._similarities_of([text])[0]

    def _similarities_of(self, texts: List[str]) -> np.ndarray:
        """Similarity of each of `texts` to every question row (one embedding batch)."""
        matrix = self._index()
        if not len(self._rows):
            return np.zeros((len(texts), 0))
        semantic = self._embedder.encode(texts) @ matrix.T
        lexical = (self._lexical.transform(texts) @ self._lexical_matrix.T).toarray()
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

    def hit_for(self, article_id: str, text: str, language: str, rule: str) -> Optional[KnowledgeHit]:
        """The article `article_id` as the answer to `text`, chosen by `rule` (its
        similarity is still computed, for staff and calibration)."""
        article = self.article(article_id, language)
        if article is None or not text.strip():
            return None
        rows = [i for i, (a, _) in enumerate(self._rows) if self.articles[a].id == article_id]
        scores = self._similarities(text)[rows]
        best = int(np.argmax(scores))
        return KnowledgeHit(article_id=article.id, title=article.title, language=article.language, body=article.body,
                            score=float(scores[best]), matched_question=self._rows[rows[best]][1],
                            missing_detail=missing_detail(text, article.body), rule=rule)

    def search(self, text: str, topic: str, language: str) -> Optional[KnowledgeHit]:
        """The best article for `topic`, in `language` where it exists; None if there is none.

        A long message is also compared sentence by sentence where it asks something
        (`question_snippets`): the question of a long email matches the article's
        questions better than the whole email does."""
        candidates = [i for i, (a, _) in enumerate(self._rows) if topic in self.articles[a].topics]
        if not candidates or not text.strip():
            return None
        # the message and its question sentences in one batch; the best of them counts
        scores = self._similarities_of([text, *question_snippets(text)])[:, candidates].max(axis=0)
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
            missing_detail=missing_detail(text, found.body),
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


#: Details a customer may ask for, and how an article that gives them shows it.
_DETAILS = (
    ("price",
     re.compile(r"\b(?:was|wie ?viel|wieviel) (?:kostet|kosten)|\bpreis(?:e|liste)?\b|\bkostet\b.{0,40}\b(?:im jahr|pro|je|monat)"
                r"|\bhow much\b|\bprice\b|\bpricing\b|\bwhat does .{0,40} cost\b", re.IGNORECASE),
     re.compile(r"\d[\d.,]*\s*(?:€|euro|eur|chf)\b|(?:€|chf)\s*\d", re.IGNORECASE)),
    ("duration",
     re.compile(r"\bwie lange? (?:ist|sind|gilt|gelten|läuft|laufen|dauert|bleibt|hält|kann|können|darf)\b|\bgültigkeit"
                r"|\bgültig\b|\blaufzeit\b|\bhow long\b|\bvalid (?:for|until)\b|\bexpire|\bablauf\w*", re.IGNORECASE),
     re.compile(r"\b\d+\s*(?:tage|tagen|wochen|monate|monaten|jahre|jahren|stunden|minuten|days|weeks|months|years|hours)\b",
                re.IGNORECASE)),
    ("date",
     re.compile(r"\bwann (?:genau |ungefähr |etwa )?(?:kommt|erscheint|gibt es|gibt's|wird|ist)\b.{0,60}"
                r"\b(?:update|version|release|build|patch|anpassung)|\bab wann\b.{0,40}\b(?:update|version)"
                r"|\brelease ?date|\berscheinungstermin|\bwhen (?:exactly )?(?:will|is|does|do)\b.{0,60}"
                r"\b(?:update|release|version|patch)", re.IGNORECASE),
     re.compile(r"\b\d{1,2}\.\s?\d{1,2}\.\s?(?:202[5-9]|20[3-9]\d)\b|\b(?:januar|februar|märz|april|mai|juni|juli|august|september|"
                r"oktober|november|dezember|january|february|march|june|july|october|december)\s+\d{4}", re.IGNORECASE)),
)


def missing_detail(question: str, body: str) -> Optional[str]:
    """'price', 'duration' or 'date' when `question` asks for one the article `body` does
    not give (the knowledge base never invents one), else None."""
    for name, asks, gives in _DETAILS:
        if asks.search(question) and not gives.search(body):
            return name
    return None


_SENTENCE = re.compile(r"[^.!?]*[.!?]+|[^.!?]+$")
_QUESTION_WORDS = re.compile(
    r"^\s*(?:wie|wo|wann|was|welche\w*|gibt es|gibt's|kann|können|könnt|habt|haben|ist|sind|wird|werden|muss|"
    r"müssen|bekomme|bekommen|deckt|umfasst|how|where|when|what|which|is there|are there|can|could|do|does|"
    r"will|is|are)\b", re.IGNORECASE)
#: A message longer than this many words is also searched by its question sentences.
SNIPPET_MIN_WORDS = 25
MAX_SNIPPETS = 2


def question_snippets(text: str) -> List[str]:
    """The sentences of a long message that ask something (with the sentence before each,
    which often names the subject), at most MAX_SNIPPETS; [] for a short message."""
    if len(text.split()) < SNIPPET_MIN_WORDS:
        return []
    sentences = [m.group(0).strip() for m in _SENTENCE.finditer(text) if m.group(0).strip()]
    snippets: List[str] = []
    for i, sentence in enumerate(sentences):
        if sentence.endswith("?") or _QUESTION_WORDS.match(sentence):
            previous = sentences[i - 1] if i and len(sentence.split()) < 12 else ""
            snippets.append(f"{previous} {sentence}".strip())
    return snippets[-MAX_SNIPPETS:] if len(snippets) > MAX_SNIPPETS else snippets


def _json(value: str) -> str:
    import json

    return json.dumps(value, ensure_ascii=False)


class LiveKnowledgeBase(KnowledgeBase):
    """A knowledge base that follows its directory: when an article file is added, changed
    or removed (the console's knowledge-base editor writes the files), the next lookup
    after `check_seconds` reloads the articles — no restart of the action server or the
    mail gateway. The check is a stat of the *.md files (names, sizes, mtimes)."""

    def __init__(self, articles: Iterable[Article], embedder, directory: Optional[Path] = None,
                 check_seconds: float = 2.0) -> None:
        super().__init__(articles, embedder)
        import threading

        self._directory = Path(directory) if directory is not None else None
        self._check_seconds = check_seconds
        self._checked_at = 0.0
        self._lock = threading.Lock()
        self._signature = self._signature_now()

    @classmethod
    def load(cls, directory: Path, embedder, check_seconds: float = 2.0) -> "LiveKnowledgeBase":
        articles, problems = load_articles(directory)
        for problem in problems:
            log.warning('{"event": "knowledge_article_skipped", "problem": %s}', _json(problem))
        return cls(articles, embedder, directory, check_seconds)

    def _signature_now(self):
        if self._directory is None or not self._directory.is_dir():
            return ()
        found = []
        for path in sorted(self._directory.glob("*.md")):
            try:
                stat = path.stat()
            except OSError:
                continue
            found.append((path.name, stat.st_size, stat.st_mtime_ns))
        return tuple(found)

    def refresh(self) -> bool:
        """Reload when the files changed since the last check (at most every check_seconds)."""
        import time

        if self._directory is None:
            return False
        now = time.monotonic()
        if now - self._checked_at < self._check_seconds:
            return False
        with self._lock:
            self._checked_at = now
            signature = self._signature_now()
            if signature == self._signature:
                return False
            articles, problems = load_articles(self._directory)
            for problem in problems:
                log.warning('{"event": "knowledge_article_skipped", "problem": %s}', _json(problem))
            KnowledgeBase.__init__(self, articles, self._embedder)
            self._signature = signature
            log.info('{"event": "knowledge_reloaded", "articles": %d}', len(articles))
            return True

    def article(self, article_id: str, language: str) -> Optional[Article]:
        self.refresh()
        return super().article(article_id, language)

    def search(self, text: str, topic: str, language: str) -> Optional[KnowledgeHit]:
        self.refresh()
        return super().search(text, topic, language)

    def scores(self, text: str, topic: Optional[str] = None) -> Dict[str, float]:
        self.refresh()
        return super().scores(text, topic)
