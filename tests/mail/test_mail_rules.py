"""The gateway's pure decisions, table-style: thread roots, the loop-protection /
rate-limit chain, reply composition, retry backoff, configuration."""
from __future__ import annotations

import datetime as dt
import email
import email.policy

import pytest

from mail_gateway.loop_protection import MailFacts, OwnMail, auto_reply_reason
from mail_gateway import policy
from mail_gateway.compose import ReplyTo, compose_reply, reply_message_id, reply_subject, to_bytes
from mail_gateway.config import parse_host_port, parse_imap_url, resolve
from mail_gateway.errors import ConfigError
from mail_gateway.threads import references_for_reply, thread_root
from mail_gateway.worker import backoff_seconds

KNOWN = {"<r1@x>": "<root@x>", "<ks1.auto.1@ks1bot.invalid>": "<root@x>"}


@pytest.mark.parametrize("mid, in_reply_to, refs, expected", [
    ("<new@x>", (), (), "<new@x>"),                                        # starts a thread
    ("<c@x>", ("<r1@x>",), (), "<root@x>"),                                # answer to a known mail
    ("<c@x>", ("<ks1.auto.1@ks1bot.invalid>",), (), "<root@x>"),           # answer to our reply
    ("<c@x>", (), ("<a@x>", "<b@x>"), "<a@x>"),                            # unknown thread: oldest reference
    ("<c@x>", ("<b@x>",), (), "<b@x>"),                                    # only In-Reply-To
    ("<c@x>", ("<zz@x>",), ("<a@x>", "<r1@x>", "<zz@x>"), "<root@x>"),     # nearest known ancestor wins
    ("<c@x>", ("<c@x>",), (), "<c@x>"),                                    # refers to itself
])
def test_thread_root(mid, in_reply_to, refs, expected):
    assert thread_root(mid, in_reply_to, refs, KNOWN.get) == expected


def test_references_keep_root_and_newest():
    refs = tuple(f"<{i}@x>" for i in range(30))
    out = references_for_reply("<p@x>", refs)
    assert len(out) == 20 and out[0] == "<0@x>" and out[-1] == "<p@x>"


def ctx(**kw):
    base = dict(auto_reason=None, has_reply_address=True, in_handoff=False, replies_to_sender=0, replies_in_thread=0)
    base.update(kw)
    return policy.MailContext(**base)


@pytest.mark.parametrize("context, expected", [
    (ctx(), policy.Verdict("route")),
    (ctx(auto_reason="out_of_office"), policy.Verdict("ignore", "auto_generated:out_of_office")),
    (ctx(auto_reason="bounce", in_handoff=True), policy.Verdict("ignore", "auto_generated:bounce")),
    (ctx(has_reply_address=False), policy.Verdict("followup", "no_sender")),       # staff see it
    (ctx(doubts=("no_reply_sender",)), policy.Verdict("followup", "no_auto_reply:no_reply_sender")),
    (ctx(doubts=("own_domain",), replies_to_sender=10), policy.Verdict("followup", "no_auto_reply:own_domain")),
    (ctx(in_handoff=True, replies_in_thread=1, replies_to_sender=99), policy.Verdict("followup", "handoff_followup")),
    (ctx(replies_to_sender=9), policy.Verdict("route")),
    (ctx(replies_to_sender=10), policy.Verdict("ignore", "sender_rate_limit")),
    (ctx(replies_in_thread=1), policy.Verdict("followup", "thread_reply_limit")),
])
def test_verdict(context, expected):
    assert policy.verdict(context, policy.Limits()) == expected


def test_limits_are_configurable():
    limits = policy.Limits(sender_limit=2, thread_replies_per_day=3)
    assert policy.verdict(ctx(replies_to_sender=2), limits).reason == "sender_rate_limit"
    assert policy.verdict(ctx(replies_in_thread=2), limits).action == "route"


@pytest.mark.parametrize("headers, subject, expected", [
    ((("X-Auto-Response-Suppress", "OOF, AutoReply"),), "Frage", "auto_response_suppress"),
    ((("Auto-Submitted", "auto-generated"),), "Frage", "auto_submitted"),
    ((("List-Id", "<l.example>"),), "Frage", "mailing_list"),
    ((("Message-ID", "<ks1.auto.x@ks1bot.invalid>"),), "Re: Frage", "own_message_id"),
    ((), "Out of Office: Frage", "out_of_office"),
    ((), "Abwesenheitsnotiz: Frage", "out_of_office"),
])
def test_loop_protection_is_the_shared_one(headers, subject, expected):
    facts = MailFacts(sender="k@musterhandel.example", subject=subject, body="Hallo", headers=headers,
                      own=OwnMail(("support@ks1-support.example",), ("ks1-support.example",), "ks1bot.invalid"))
    assert auto_reply_reason(facts) == expected


@pytest.mark.parametrize("subject, language, expected", [
    ("Frage", "de", "Re: Frage"),
    ("Re: Frage", "de", "Re: Frage"),
    ("RE: Re: AW: Frage", "de", "Re: Frage"),
    ("AW: Drucker im Lager", "de", "Re: Drucker im Lager"),
    ("Fwd: Fehler", "en", "Re: Fehler"),
    ("", "de", "Re: Ihre Nachricht"),
    ("  ", "en", "Re: Your message"),
])
def test_reply_subject(subject, language, expected):
    assert reply_subject(subject, language) == expected


def test_compose_reply_headers_and_alternatives():
    parent = ReplyTo("<m2@x>", ("<m1@x>",), "AW: Frage", "kunde@musterhandel.example")
    mid = reply_message_id("<m2@x>", "ks1bot.invalid")
    assert mid == reply_message_id("<m2@x>", "ks1bot.invalid") != reply_message_id("<m3@x>", "ks1bot.invalid")
    msg = compose_reply(parent, "Guten Tag,\n\nGrüße <b>&", language="de", from_address="support@ks1-support.example",
                        from_name="KS1 Support", message_id=mid, date=dt.datetime(2026, 11, 17, 10, tzinfo=dt.timezone.utc))
    parsed = email.message_from_bytes(to_bytes(msg), policy=email.policy.default)
    assert parsed["Subject"] == "Re: Frage"
    assert parsed["In-Reply-To"] == "<m2@x>" and parsed["References"] == "<m1@x> <m2@x>"
    assert parsed["Message-ID"] == mid and mid.endswith("@ks1bot.invalid>")
    assert parsed["Auto-Submitted"] == "auto-replied" and parsed["Content-Language"] == "de"
    assert parsed["To"] == "kunde@musterhandel.example"
    text = parsed.get_body(("plain",)).get_content()
    html = parsed.get_body(("html",)).get_content()
    assert "Grüße <b>&" in text and "Grüße &lt;b&gt;&amp;" in html
    staff = compose_reply(parent, "x", language="de", from_address="s@x.example", from_name="Anna", message_id="<s@x>",
                          date=dt.datetime.now(dt.timezone.utc), automatic=False)
    assert staff["Auto-Submitted"] is None


@pytest.mark.parametrize("attempt, expected", [(1, 5), (2, 10), (3, 20), (20, 600)])
def test_backoff(attempt, expected):
    assert backoff_seconds(attempt, 5) == expected


def test_imap_url():
    account = parse_imap_url("imaps://support%40firma.de:p%40ss@mail.firma.de/Support")
    assert (account.username, account.password, account.host, account.port, account.mailbox, account.tls) == (
        "support@firma.de", "p@ss", "mail.firma.de", 993, "Support", True)
    account = parse_imap_url("imap://bot@127.0.0.1:1143/INBOX", password="from-env")
    assert (account.port, account.password, account.tls) == (1143, "from-env", False)
    assert "from-env" not in account.describe()
    for bad in ("http://x@y/", "imap://host/INBOX", "imap://u@h:99999/INBOX"):
        with pytest.raises(ConfigError):
            parse_imap_url(bad, password="x")
    with pytest.raises(ConfigError, match="KS1BOT_MAIL_IMAP_PASSWORD"):
        parse_imap_url("imap://u@h/INBOX")


def test_host_port():
    assert parse_host_port("127.0.0.1:2525", "x") == ("127.0.0.1", 2525)
    assert parse_host_port("[::1]:25", "x") == ("::1", 25)
    with pytest.raises(ConfigError, match="HOST:PORT"):
        parse_host_port("localhost", "--relay")


def test_resolve_order_cli_env_file(settings, tmp_path):
    env = {"KS1BOT_MAIL_RELAY": "10.0.0.1:25", "KS1BOT_MAIL_SMTP_LISTEN": "127.0.0.1:2600",
           "KS1BOT_MAIL_RELAY_PASSWORD": "pw", "KS1BOT_MAIL_DATA_DIR": str(tmp_path)}
    config = resolve(settings, smtp_listen="127.0.0.1:2525", env=env)
    assert config.smtp_listen == ("127.0.0.1", 2525)            # command line wins
    assert (config.relay.host, config.relay.port, config.relay.password) == ("10.0.0.1", 25, "pw")  # environment
    assert config.data_dir == tmp_path and config.from_address == "support@ks1-support.example"  # settings
    assert config.options.processed_folder == "KS1-Bot/Processed"
    assert resolve(settings, env={}).relay is None               # default: outbox
