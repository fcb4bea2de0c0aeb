from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from ks1bot.nlu.kb_calibration import load_calibration_set
from ks1bot.nlu.knowledge import ArticleError, KnowledgeBase, load_articles, parse_article
from ks1bot.core.messages import InboundMessage
from ks1bot.nlu.router import Router

ROOT = Path(__file__).resolve().parent.parent
KB_DIR = ROOT / "data" / "knowledge"
TUESDAY = dt.datetime(2026, 11, 17, 11, 0, tzinfo=dt.timezone.utc)


def test_every_shipped_article_parses_in_both_languages():
    articles, problems = load_articles(KB_DIR)
    assert problems == []
    by_id = {}
    for article in articles:
        by_id.setdefault(article.id, set()).add(article.language)
    assert len(by_id) >= 10
    assert all(languages == {"de", "en"} for languages in by_id.values()), by_id
    expected = {"test-access", "installation-guides", "golive-checklist", "performance-tool",
                "ks1-internet-hints", "update-tool", "legal-changes", "support-hours",
                "support-contract", "update-service"}
    assert expected <= set(by_id)


@pytest.mark.parametrize("text, fragment", [
    ("no front matter", "must start with"),
    ("---\nid: x\n", "no closing"),
    ("---\nid: x\ntitle: T\nlanguage: fr\ntopics: [update_question]\nquestions: [q]\n---\nBody", "language must be"),
    ("---\nid: x\ntitle: T\nlanguage: de\ntopics: [hardware]\nquestions: [q]\n---\nBody", "cannot be answered"),
    ("---\nid: x\ntitle: T\nlanguage: de\ntopics: [update_question]\nquestions: [q]\n---\n", "no answer text"),
    ("---\nid: x\nlanguage: de\ntopics: [update_question]\nquestions: [q]\n---\nBody", "lacks title"),
])
def test_bad_articles_are_explained(text, fragment):
    with pytest.raises(ArticleError, match=fragment):
        parse_article(text)


def test_a_broken_article_is_skipped_not_fatal(tmp_path, embedder):
    (tmp_path / "bad.de.md").write_text("no front matter")
    shutil.copy(KB_DIR / "update-tool.de.md", tmp_path)
    kb = KnowledgeBase.load(tmp_path, embedder)
    assert [a.id for a in kb.articles] == ["update-tool"]


def test_held_out_questions_find_their_article(knowledge):
    """The calibration set's positives (not the articles' own questions) find the right article
    among the articles of that article's topic."""
    cases = [c for c in load_calibration_set(KB_DIR / "calibration.yml") if c.article]
    hits = 0
    for case in cases:
        topic = next(a.topics[0] for a in knowledge.articles if a.id == case.article)
        hit = knowledge.search(case.text, topic, "de")
        hits += hit is not None and hit.article_id == case.article
    assert hits / len(cases) >= 0.8, f"{hits}/{len(cases)}"


def test_answer_in_the_message_language(knowledge):
    hit = knowledge.search("How do I get KS1 updates?", "update_question", "en")
    assert hit.article_id == "update-tool" and hit.language == "en"
    hit_de = knowledge.search("How do I get KS1 updates?", "update_question", "de")
    assert hit_de.article_id == "update-tool" and hit_de.language == "de"


def test_adding_an_article_makes_the_bot_answer(tmp_path, settings, eval_customers, embedder, classifier):
    """Operating how-tos are added by the vendor; until one exists, the question is handed off."""
    question = InboundMessage(
        id="t1", channel="chat", received_at=TUESDAY, sender="h.meier@meier-bau.de",
        text="Wie lege ich in KS1 für einen Artikel einen Mindestbestand fest?",
    )
    shipped = Router(settings, eval_customers, KnowledgeBase.load(KB_DIR, embedder), parser=classifier)
    before = shipped.route(question)
    assert before.decision.topic == "operating_question"
    assert before.decision.route == "handoff"

    kb_dir = tmp_path / "knowledge"
    shutil.copytree(KB_DIR, kb_dir)
    (kb_dir / "minimum-stock.de.md").write_text(
        "---\nid: minimum-stock\ntitle: Mindestbestand eines Artikels\nlanguage: de\n"
        "topics: [operating_question]\nquestions:\n"
        "  - Wie hinterlege ich einen Mindestbestand für einen Artikel?\n"
        "  - Wo stelle ich in KS1 den Mindestbestand ein?\n"
        "  - Mindestbestand beim Artikel eintragen\n"
        "---\nDen Mindestbestand tragen Sie im Artikelstamm ein (Testartikel des Herstellers).\n",
        encoding="utf-8",
    )
    extended = Router(settings, eval_customers, KnowledgeBase.load(kb_dir, embedder), parser=classifier)
    after = extended.route(question)
    assert after.decision.route == "answer"
    assert "kb:minimum-stock" in after.decision.reasons
    assert after.reply.startswith("Den Mindestbestand tragen Sie im Artikelstamm ein")
    assert "(kb:minimum-stock)" in after.reply


def test_missing_details_are_never_answered_from_an_article():
    from ks1bot.nlu.knowledge import missing_detail

    body = "Den Demo-Key erhalten Sie vom KS1-Support; er schaltet alle Funktionen frei."
    assert missing_detail("Wie lange ist der Demo-Key gültig?", body) == "duration"
    assert missing_detail("Wie viel kostet der Updateservice im Jahr für 6 Arbeitsplätze?", body) == "price"
    assert missing_detail("Wann genau kommt das Update mit den neuen Steuersätzen raus?", body) == "date"
    assert missing_detail("How long does the test access last?", body) == "duration"
    assert missing_detail("Wie bekomme ich einen Demo-Key?", body) is None
    assert missing_detail("Wie lange ist der Demo-Key gültig?", "Der Demo-Key gilt 30 Tage.") is None


def test_long_mails_are_also_searched_by_their_questions():
    from ks1bot.nlu.knowledge import question_snippets

    mail = ("Wir haben den Vertrag für KS1 unterschrieben und der Produktivstart ist auf den 1. Februar geplant. "
            "Bis dahin arbeiten wir mit dem Demo-System und übernehmen nach und nach die Stammdaten. Unser "
            "Verwaltungsrat möchte wissen, welche Punkte wir prüfen müssen. Gibt es dafür eine Checkliste?")
    snippets = question_snippets(mail)
    assert snippets and snippets[-1].endswith("Gibt es dafür eine Checkliste?")
    assert question_snippets("Gibt es eine Checkliste?") == []
