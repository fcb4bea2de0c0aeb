"""The chat widget on the demo page, in headless Chromium, against the running bot."""
from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest


from browser import browser, chromium, screenshot

PASSWORD = "correct-horse-battery"


def open_chat(context, bot):
    page = context.new_page()
    page.goto(f"{bot.console_url}/widget/demo")
    page.wait_for_selector(".rw-launcher", timeout=30_000)
    page.click(".rw-launcher")
    page.wait_for_selector(".rw-new-message", timeout=30_000)
    # The bot greets a new conversation.
    page.locator(".rw-response").first.wait_for(timeout=60_000)
    return page


def wait_for_reply(page, text, timeout=30_000):
    """(Locators, not wait_for_function: the page's CSP forbids evaluating strings.)"""
    page.locator(".rw-response", has_text=text).first.wait_for(timeout=timeout)


def say(page, text):
    before = page.locator(".rw-response").count()
    page.fill(".rw-new-message", text)
    page.keyboard.press("Enter")
    page.locator(".rw-response").nth(before).wait_for(timeout=60_000)
    page.wait_for_timeout(800)  # let a multi-paragraph reply arrive completely
    return "\n".join(page.locator(".rw-response").all_inner_texts()[before:])


def session_id(page):
    """The session credential the bot issued (kept in the browser's localStorage)."""
    return page.evaluate("JSON.parse(localStorage.getItem('chat_session') || '{}').session_id")


def conversation_of(page):
    """The conversation id: the credential's first part."""
    return session_id(page).split(".")[0]


@pytest.fixture(scope="module")
def staff(live_bot):
    ks1bot = str(Path(sys.executable).with_name("ks1bot"))
    subprocess.run([ks1bot, "--settings", str(live_bot.settings_file), "staff", "add", "anna", "--password-stdin"],
                   input=PASSWORD + "\n", text=True, check=True, capture_output=True)
    return "anna"


@pytest.mark.slow
def test_exclusion_and_handoff_note_in_the_widget(live_bot):
    with browser() as context:
        page = open_chat(context, live_bot)
        reply = say(page, "Können Sie uns beim Einrichten des VPN zu unserer Filiale helfen?")
        assert "Netzwerk" in reply and "Systemadministrator oder Ihren IT-Dienstleister" in reply
        screenshot(page, "widget-exclusion")
        reply = say(page, "Beim Buchen eines Lieferscheins stürzt KS1 mit der Fehlermeldung 'Objektverweis nicht "
                          "festgelegt' ab.")
        assert "an den Support weitergegeben" in reply and "Mitarbeiter" in reply
        assert re.search(r"schnellstmöglich|am \w+, \d+\. \w+, ab 08:30 Uhr", reply)
        screenshot(page, "widget-handoff")


@pytest.mark.slow
def test_staff_reply_from_the_console_appears_and_hand_back_resumes_the_bot(live_bot, staff):
    store = live_bot.handoffs()
    with browser() as context:
        chat = open_chat(context, live_bot)
        say(chat, "Ich hätte gern einen Rückruf von einem Mitarbeiter, es geht um unsere Preislisten.")
        conversation = conversation_of(chat)
        handoff = store.open_handoff_for("chat", conversation)
        assert handoff is not None

        console = context.new_page()
        console.goto(f"{live_bot.console_url}/console/login")
        console.fill("input[name=name]", staff)
        console.fill("input[name=password]", PASSWORD)
        console.click("button[type=submit]")
        console.goto(f"{live_bot.console_url}/console/handoffs/{handoff}")
        console.fill("#reply-text", "Guten Tag, ich rufe Sie gleich zu den Preislisten an. Viele Grüße, Anna")
        console.click("#send-reply")
        console.wait_for_selector(".notice.good")
        assert "Antwort eingereiht (chat message to the customer's widget)" in console.inner_text(".notice")

        # the Rasa server's chat channel delivers it from the outbox; the page follows live
        wait_for_reply(chat, "ich rufe Sie gleich zu den Preislisten an")
        console.locator("#deliveries .delivery-status", has_text=re.compile("^gesendet$")).first.wait_for(timeout=30_000)
        screenshot(chat, "widget-staff-reply")

        console.click("#hand-back")
        console.wait_for_selector(".notice.good")
        wait_for_reply(chat, "wieder mit dem KS1-Bot verbunden")
        deadline = time.monotonic() + 30
        while [d.status for d in store.deliveries(handoff)] != ["sent", "sent"] and time.monotonic() < deadline:
            time.sleep(0.2)
        assert [(d.kind, d.status) for d in store.deliveries(handoff)] == [("staff_reply", "sent"), ("hand_back", "sent")]
        reply = say(chat, "Gibt es einen Testzugang für KS1?")
        assert "Testzugang" in reply or "Mitarbeiter" in reply  # the bot answers again


@pytest.mark.slow
def test_session_survives_reload_and_browsers_are_separate(live_bot):
    with chromium() as instance:
        first, second = instance.new_context(), instance.new_context()
        page = open_chat(first, live_bot)
        say(page, "Unser Scanner im Lager ist kaputt, welchen sollen wir kaufen?")
        conversation = session_id(page)
        page.reload()
        page.wait_for_selector(".rw-launcher")
        if page.locator(".rw-new-message").count() == 0:
            page.click(".rw-launcher")
        page.locator(".rw-client", has_text="Scanner im Lager").first.wait_for(timeout=30_000)
        assert session_id(page) == conversation
        other = open_chat(second, live_bot)
        assert session_id(other) != conversation
        assert "Scanner im Lager" not in other.inner_text(".rw-messages-container")


@pytest.mark.slow
def test_html_in_chat_is_text_and_long_messages_work(live_bot):
    with browser() as context:
        page = open_chat(context, live_bot)
        reply = say(page, '<img src="x" onerror="window.__xss = 1"><script>window.__xss = 2</script> '
                          'Wie richte ich in Outlook ein zweites Postfach ein?')
        assert "Systemadministrator" in reply  # Outlook: excluded, so the bot keeps talking
        assert page.evaluate("window.__xss") is None
        assert page.locator(".rw-messages-container img[src='x']").count() == 0
        long_text = ("Seit dem Update stürzt KS1 beim Drucken der Rechnungen ab. " * 200)[:10_000]
        reply = say(page, long_text)
        assert "Mitarbeiter" in reply or "Fehler" in reply
        screenshot(page, "widget-long-message")


@pytest.mark.slow
def test_answer_sent_while_the_connection_is_down_is_shown_after_reconnect(live_bot):
    with browser() as context:
        # Keep a handle on the page's websockets so the test can cut them.
        context.add_init_script("""(() => {
            const Native = window.WebSocket; window.__sockets = [];
            window.WebSocket = function (...args) { const s = new Native(...args); window.__sockets.push(s); return s; };
            window.WebSocket.prototype = Native.prototype; Object.assign(window.WebSocket, Native);
        })();""")
        page = open_chat(context, live_bot)
        page.wait_for_timeout(3000)  # socket.io has upgraded from polling to a websocket
        page.fill(".rw-new-message", "Wie bekomme ich die Updates für KS1?")
        page.keyboard.press("Enter")
        page.evaluate("window.__sockets.forEach(s => s.close())")  # the connection drops mid-reply
        answer = page.locator(".rw-response, #ks1-chat-notices .ks1-chat-notice",
                              has_text=re.compile("Update Tool|Mitarbeiter|konnte nicht beantwortet"))
        answer.first.wait_for(timeout=90_000)
        screenshot(page, "widget-reconnect")


KS1WEB_PAGE = """<!doctype html><html lang="de"><head><meta charset="utf-8"><title>KS1 web</title></head>
<body><h1>KS1 web – Aufträge</h1>
<script src="{base}/widget/ks1-widget.js" data-server="{server}" data-token="{token}" data-language="de"></script>
</body></html>"""


def open_ks1web(context, ks1web, bot, token, *, base=None, server=None):
    """KS1 web (another origin) with the widget embedded and a customer token it signed."""
    ks1web.page = KS1WEB_PAGE.format(base=base or bot.console_url, server=server or bot.rasa_url, token=token)
    page = context.new_page()
    page.goto(f"{ks1web.origin}/auftraege")
    page.wait_for_selector(".rw-launcher", timeout=30_000)
    page.click(".rw-launcher")
    page.wait_for_selector(".rw-new-message", timeout=30_000)
    page.locator(".rw-response").first.wait_for(timeout=60_000)
    return page


@pytest.mark.slow
def test_ks1_web_s_signed_token_makes_the_customer_known_in_the_widget(live_bot, ks1web):
    """Alpen Handel (C1004) has an update contract: with KS1 web's token the bot knows it and
    declines an operating question (SPEC §4); the same question in the anonymous demo page
    goes to a person (an unknown customer is served like a support customer)."""
    from tests.support.public_clients import customer_token

    question = "Wie lege ich in KS1 einen neuen Kunden mit abweichender Lieferadresse an?"
    token = customer_token(live_bot, "C1004", email="e.berger@alpen-handel.at", name="Eva Berger")
    with browser() as context:
        page = open_ks1web(context, ks1web, live_bot, token)
        reply = say(page, question)
        assert "umfasst sie leider nicht" in reply and "Supportvertrag" in reply
        screenshot(page, "widget-signed-customer")
        assert live_bot.handoffs().open_handoff_for("chat", conversation_of(page)) is None
        anonymous = open_chat(context, live_bot)
        assert "umfasst sie leider nicht" not in say(anonymous, question)
