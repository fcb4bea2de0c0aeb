"""The durable queue: dedupe by Message-ID, claims, crash recovery, reply states."""
from __future__ import annotations

import subprocess
import sys

import mail_samples as m
from mail_gateway.store import MailStore, NewOutbound, Outcome


def reply(store, mid="<r1@ks1bot.invalid>", cid="<m1@x>", to="k@x.example"):
    path = store.replies_dir / "r1.eml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"Subject: x\r\n\r\ny\r\n")
    return NewOutbound(mid, cid, "auto_reply", to, "Re: x", "y", "de", str(path.relative_to(store.directory)))


def test_enqueue_is_durable_and_deduplicated(tmp_path):
    store = MailStore(tmp_path)
    first = store.enqueue(m.plain("a", "b", message_id="<m1@x>"), "smtp")
    # the same mail again, with headers added in transit: a duplicate
    again = store.enqueue(b"Received: by mx.example\r\n" + m.plain("a", "b", message_id="<m1@x>"), "imap",
                          imap=("acct", 7, 3))
    assert not first.duplicate and again.duplicate and again.id == first.id
    row = store.query("SELECT * FROM inbound")[0]
    assert (row["status"], row["imap_uid"], row["imap_moved"]) == ("queued", 3, 0)
    assert (tmp_path / row["raw_path"]).read_bytes() == m.plain("a", "b", message_id="<m1@x>")
    assert store.summary()["duplicates"] == 1


def test_claim_finish_and_reply_exactly_once(tmp_path):
    store = MailStore(tmp_path)
    store.enqueue(m.plain("a", "b", message_id="<m1@x>"), "smtp")
    row = store.claim_inbound("me:1")
    assert row.status == "processing" and store.claim_inbound("me:1") is None
    new = reply(store)
    store.finish(row.id, Outcome(status="processed", conversation_id="<m1@x>", route="answer", reply=new))
    store.finish(row.id, Outcome(status="processed", conversation_id="<m1@x>", route="answer", reply=new))  # again
    assert len(store.query("SELECT * FROM outbound")) == 1
    out = store.claim_outbound("me:1")
    assert out.message_id == "<r1@ks1bot.invalid>" and store.claim_outbound("me:1") is None
    store.mark_sent(out.id)
    assert store.summary()["replies"]["sent"] == 1
    assert store.auto_replies_to("K@X.example", 0) == 1 and store.auto_replies_in("<m1@x>", 0) == 1


def test_recover_after_a_dead_worker(tmp_path):
    store = MailStore(tmp_path)
    store.enqueue(m.plain("a", "b", message_id="<m1@x>"), "smtp")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    ghost = f"{__import__('socket').gethostname()}:{dead.stdout.strip()}"
    row = store.claim_inbound(ghost)
    store.finish(row.id, Outcome(status="processed", conversation_id="<m1@x>", reply=reply(store)))
    out = store.claim_outbound(ghost)
    store.mark_sending(out.id)  # died between the end of the data and the relay's answer
    store.enqueue(m.plain("a", "b", message_id="<m2@x>"), "smtp")
    store.claim_inbound(ghost)  # died while processing
    counts = store.recover("me:1")
    assert counts == {"requeued": 1, "unconfirmed": 1}
    assert store.query("SELECT state FROM outbound")[0]["state"] == "unconfirmed"
    assert store.claim_outbound("me:1") is None  # never sent again
    assert store.claim_inbound("me:1").message_id == "<m2@x>"


def test_a_mail_that_kills_the_worker_three_times_is_exhausted(tmp_path):
    # the worker hands an exhausted mail to a person without reading it (test_mail_failsafe.py)
    store = MailStore(tmp_path)
    store.enqueue(m.plain("a", "b", message_id="<m1@x>"), "smtp")
    for _ in range(3):
        assert store.claim_inbound("x:1").status == "processing"
        store.query("UPDATE inbound SET status='queued'")
    assert store.claim_inbound("x:1").status == "exhausted"
    [row] = store.query("SELECT status, last_error FROM inbound")
    assert row["status"] == "processing" and "3 times" in row["last_error"]


def test_imap_moves_and_uidvalidity(tmp_path):
    store = MailStore(tmp_path)
    first = store.enqueue(m.plain("a", "b", message_id="<m1@x>"), "imap", imap=("acct", 7, 1))
    store.enqueue(m.plain("a", "b", message_id="<m2@x>"), "imap", imap=("acct", 7, 2))
    assert store.pending_moves("acct", 7) == []  # no outcome yet: stays in the mailbox
    store.finish(first.id, Outcome(status="ignored", conversation_id="<m1@x>"))
    assert store.pending_moves("acct", 7) == [(first.id, 1, "ignored")]
    store.mark_moved([first.id])
    assert store.pending_moves("acct", 7) == []
    assert store.forget_uids("acct", 8) == 1


def test_a_different_mail_under_a_used_message_id_is_kept(tmp_path):
    store = MailStore(tmp_path)
    first = store.enqueue(m.plain("a", "KS1 Fehler 1", message_id="<same@x>"), "smtp")
    again = store.enqueue(b"Return-Path: <k@x>\r\n" + m.plain("a", "KS1 Fehler 1", message_id="<same@x>"), "imap",
                          imap=("acct", 1, 5))
    other = store.enqueue(m.plain("b", "Ein ganz anderer Text", message_id="<same@x>"), "smtp")
    assert again.duplicate and again.id == first.id          # the same mail twice: stored once
    assert not other.duplicate and other.id != first.id       # another mail under the same id: kept
    assert other.message_id.startswith("<reused-") and other.message_id.endswith(".same@x>")
    assert store.summary()["duplicates"] == 1


def test_the_same_mail_twice_in_the_mailbox_leaves_it_twice(tmp_path):
    store = MailStore(tmp_path)
    raw = m.plain("a", "b", message_id="<twice@x>")
    first = store.enqueue(raw, "imap", imap=("acct", 7, 1))
    second = store.enqueue(raw, "imap", imap=("acct", 7, 2))   # still unmoved copy 1: both must go
    assert second.duplicate and second.id == first.id
    store.finish(first.id, Outcome(status="ignored", conversation_id="<twice@x>"))
    moves = store.pending_moves("acct", 7)
    assert sorted(uid for _key, uid, _status in moves) == [1, 2]
    store.mark_moved(key for key, _uid, _status in moves)
    assert store.pending_moves("acct", 7) == []
