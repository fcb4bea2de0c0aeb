"""The console in headless Chromium: escaping, live queue, long mail layout."""
from __future__ import annotations

import pytest

from browser import browser, screenshot

from .conftest import PASSWORD, new_handoff


def log_in(page, base):
    page.goto(f"{base}/console")
    page.fill("input[name=name]", "anna")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("table#queue")


@pytest.mark.slow
def test_script_and_img_onerror_in_an_email_do_not_execute(console):
    evil = ('<script>window.__xss = "script";</script>'
            '<img src="x" onerror="window.__xss = \'img\'">'
            '<svg onload="window.__xss = \'svg\'"></svg>')
    handoff = new_handoff(console.store, channel="email", sender="h.meier@meier-bau.de",
                          subject='Fehler <img src=x onerror="window.__xss=\'subject\'">',
                          text=f"Hallo,\n{evil}\nGruß H. Meier")
    with browser() as context:
        page = context.new_page()
        dialogs = []
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        log_in(page, console.url)
        page.goto(f"{console.url}/console/handoffs/{handoff}")
        page.wait_for_selector("pre.text")
        page.wait_for_timeout(500)
        assert page.evaluate("window.__xss") is None
        assert dialogs == []
        # The markup is shown as text, exactly as the customer sent it.
        assert '<script>window.__xss = "script";</script>' in page.inner_text("ol.conversation")
        assert page.locator("ol.conversation img").count() == 0
        screenshot(page, "console-escaped-email")


@pytest.mark.slow
def test_new_handoff_appears_without_reload(console):
    with browser() as context:
        page = context.new_page()
        log_in(page, console.url)
        page.evaluate("window.__sameDocument = true")
        handoff = new_handoff(console.store, channel="chat", topic="request_human",
                              subject="Rückruf <b>bitte</b>", sender="h.meier@meier-bau.de")
        page.wait_for_selector(f'tr[data-id="{handoff}"]', timeout=10_000)
        assert page.evaluate("window.__sameDocument") is True  # no reload happened
        row = page.inner_text(f'tr[data-id="{handoff}"]')
        assert "Wunsch nach einer Person" in row and "Rückruf <b>bitte</b>" in row
        assert "Neue Übergabe" in page.inner_text("#live")
        screenshot(page, "console-live-queue")


@pytest.mark.slow
def test_a_1mb_email_is_shown_scrollable_without_breaking_the_layout(console):
    line = "Sehr lange Zeile ohne Umbruch " * 40 + "X" * 3000 + "\n"
    text = line * 250  # about 1 MB
    handoff = new_handoff(console.store, channel="email", sender="h.meier@meier-bau.de", text=text)
    with browser() as context:
        page = context.new_page()
        log_in(page, console.url)
        page.goto(f"{console.url}/console/handoffs/{handoff}")
        box = page.locator("ol.conversation pre.text").first
        metrics = box.evaluate("el => ({client: el.clientHeight, scroll: el.scrollHeight, width: el.scrollWidth, "
                               "doc: document.documentElement.scrollWidth, view: window.innerWidth, "
                               "chars: el.textContent.length})")
        assert metrics["chars"] >= len(text) - 10
        assert metrics["scroll"] > metrics["client"]  # scrolls inside its box
        assert metrics["doc"] <= metrics["view"]  # the page itself does not get wider
        assert page.is_visible("#send-reply")
        screenshot(page, "console-1mb-email")
