"""The knowledge base in the console: the lead adds and edits the German/English pair with
a Markdown preview (escaped), every save is kept as a version, the files stay valid for
`ks1bot kb check`, and the bot's knowledge base picks up a change without a restart; an
agent gets 403."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.staff_console.conftest import PASSWORD, LiveServer, login, make_console

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def kb_console(tmp_path, settings):
    knowledge = tmp_path / "knowledge"
    shutil.copytree(ROOT / "data" / "knowledge", knowledge)
    local = settings.with_overrides(knowledge_dir=knowledge)
    store, auth, app = make_console(local, f"sqlite:///{tmp_path / 'console.db'}")
    auth.add_staff("anna", PASSWORD)
    auth.add_staff("lena", PASSWORD, role="lead")
    with LiveServer(app) as server:
        server.store, server.auth, server.knowledge = store, auth, knowledge
        yield server


def csrf_of(html: str) -> str:
    return html.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]


ARTICLE = {
    "article_id": "month-end", "new": "1", "topics": ["operating_question"],
    "title_de": "Monatsabschluss in KS1", "title_en": "Month-end closing in KS1",
    "questions_de": "Wie mache ich den Monatsabschluss?\nMonatsabschluss KS1", "questions_en": "How do I close the month?",
    "body_de": "**Schritt 1:** Belege prüfen.\n\n<script>alert(1)</script> [Link](javascript:alert(1))",
    "body_en": "**Step 1:** check the documents.",
}


def test_the_lead_adds_previews_and_edits_an_article_and_every_save_is_kept(kb_console):
    from ks1bot.nlu.knowledge import LiveKnowledgeBase, load_articles

    live = LiveKnowledgeBase.load(kb_console.knowledge, embedder=None, check_seconds=0)
    assert live.article("month-end", "de") is None
    lena = login(kb_console.url, "lena")
    page = lena.get(kb_console.url + "/console/kb/new")
    assert page.status_code == 200 and "Neuer Artikel" in page.text
    preview = lena.post(kb_console.url + "/console/kb/save",
                        data={**ARTICLE, "csrf_token": csrf_of(page.text), "action": "preview"})
    assert "<strong>Schritt 1:</strong>" in preview.text
    assert "<script>alert(1)</script>" not in preview.text and "&lt;script&gt;" in preview.text
    assert 'href="javascript' not in preview.text
    saved = lena.post(kb_console.url + "/console/kb/save",
                      data={**ARTICLE, "csrf_token": csrf_of(page.text), "action": "save"})
    assert "Artikel month-end gespeichert" in saved.text
    articles, problems = load_articles(kb_console.knowledge)  # what `ks1bot kb check` reads
    assert problems == [] and {a.language for a in articles if a.id == "month-end"} == {"de", "en"}
    assert live.article("month-end", "de").title == "Monatsabschluss in KS1"  # live, no restart

    edit = lena.get(kb_console.url + "/console/kb/month-end")
    assert "Monatsabschluss in KS1" in edit.text
    lena.post(kb_console.url + "/console/kb/save",
              data={**ARTICLE, "new": "0", "title_de": "Monatsabschluss", "csrf_token": csrf_of(edit.text),
                    "action": "save"})
    assert live.article("month-end", "de").title == "Monatsabschluss"
    versions = lena.get(kb_console.url + "/console/kb/month-end/versions").text
    assert "Version 2" in versions and "Version 1" in versions and "title: Monatsabschluss in KS1" in versions


def test_a_broken_article_is_not_saved_and_says_why(kb_console):
    lena = login(kb_console.url, "lena")
    page = lena.get(kb_console.url + "/console/kb/new")
    refused = lena.post(kb_console.url + "/console/kb/save",
                        data={**ARTICLE, "topics": [], "csrf_token": csrf_of(page.text), "action": "save"})
    assert refused.status_code == 400 and "topics" in refused.text
    assert not (kb_console.knowledge / "month-end.de.md").exists()


def test_an_agent_gets_403_on_the_knowledge_base_and_the_dashboard(kb_console):
    anna = login(kb_console.url)
    for path in ("/console/kb", "/console/kb/new", "/console/kb/update-tool/versions", "/console/dashboard"):
        assert anna.get(kb_console.url + path).status_code == 403, path
    html = anna.get(kb_console.url + "/console").text
    refused = anna.post(kb_console.url + "/console/kb/save", data={**ARTICLE, "csrf_token": csrf_of(html),
                                                                    "action": "save"})
    assert refused.status_code == 403 and not (kb_console.knowledge / "month-end.de.md").exists()
