"""Replies thread for every Message-ID shape: Exchange Online (long, folded), Gmail,
Apple Mail, Thunderbird (References chains) and Lotus Notes (no angle brackets) — bot
replies and staff replies, checked in the bytes the relay receives (no RFC 2047 encoded
words in Message-ID, In-Reply-To, References), and grouped the way Thunderbird threads
(References chains)."""
from __future__ import annotations

import datetime as dt
import re
import time
from typing import Dict, List, Sequence

import pytest

from mail_client import send
from mail_gateway.compose import ReplyTo, compose_reply, fold_ids, to_bytes

EXCHANGE = ("<MN6PR12MB4567A1B2C3D4E5F6A7B8C9D0E1F2A3B4C5@MN6PR12MB4567A1B2C3D4E5F6A7B8C9D0E1F2A3B4C5"
            ".namprd12.prod.outlook.com>")
EXCHANGE_OLDER = ("<DM4PR11MB5999F3E2D1C0B9A8F7E6D5C4B3A2F1E0D9@DM4PR11MB5999F3E2D1C0B9A8F7E6D5C4B3A2F1E0D9"
                  ".namprd11.prod.outlook.com>")
GMAIL = "<CAKx9vN4q+8Gv=r_Yf0x-3Jk2mJ9sYwQ7bZ1t=Hc5LpR2uA@mail.gmail.com>"
APPLE = "<6D3A1B2C-4E5F-4A7B-8C9D-0E1F2A3B4C5D@musterhandel.example>"
THUNDERBIRD = "<a3f1c2d4-5b6e-7f80-91a2-b3c4d5e6f708@musterhandel.example>"
THUNDERBIRD_CHAIN = ("<1f2e3d4c-0000-4000-8000-000000000001@musterhandel.example>",
                     "<1f2e3d4c-0000-4000-8000-000000000002@ks1bot.invalid>")
NOTES = "OF1A2B3C4D.5E6F7A8B-ONC1257A1B.00345678-C1257A1B.00356789@notes.musterhandel.example"

#: (client, Message-ID as the header carries it, the id as it threads, References header or None)
SHAPES = [
    ("exchange", "\r\n " + EXCHANGE, EXCHANGE, EXCHANGE_OLDER),     # Exchange folds the id onto its own line
    ("gmail", GMAIL, GMAIL, None),
    ("apple", APPLE, APPLE, None),
    ("thunderbird", THUNDERBIRD, THUNDERBIRD, " ".join(THUNDERBIRD_CHAIN)),
    ("notes", NOTES, f"<{NOTES}>", None),
]


def customer_mail(client: str, message_id: str, references=None, in_reply_to=None, text=None) -> bytes:
    lines = [f"From: {client.title()} Kunde <{client}@musterhandel.example>", "To: support@ks1-support.example",
             f"Subject: {'Re: ' if references else ''}KS1 Fehler beim Buchen ({client})",
             "Date: Tue, 17 Nov 2026 10:20:00 +0100", f"Message-ID: {message_id}"]
    if in_reply_to:
        lines.append(f"In-Reply-To: {in_reply_to}")
    if references:
        lines.append(f"References: {references}")
    lines += ["MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8", "", text or
              f"Guten Tag, in KS1 erscheint beim Buchen ein Fehler ({client}).", ""]
    return "\r\n".join(lines).encode("utf-8")


def header_block(data: bytes) -> List[str]:
    return data.split(b"\r\n\r\n", 1)[0].decode("ascii").split("\r\n")


def field(data: bytes, name: str) -> str:
    """The field's value unfolded, from the bytes as they went over the wire."""
    value, inside = [], False
    for line in header_block(data):
        if line[:1] in (" ", "\t"):
            if inside:
                value.append(line)
            continue
        inside = line.lower().startswith(name.lower() + ":")
        if inside:
            value.append(line.split(":", 1)[1])
    return " ".join(" ".join(value).split())


def assert_ids_on_the_wire(data: bytes, parent: str, references: Sequence[str]) -> None:
    for line in header_block(data):
        assert len(line) <= 998
    for name in ("Message-ID", "In-Reply-To", "References"):
        assert "=?" not in field(data, name), (name, field(data, name))
        for token in field(data, name).split():
            assert re.fullmatch(r"<[^<>\s]+>", token), (name, token)
    assert field(data, "In-Reply-To") == parent
    assert field(data, "References").split() == [*references, parent]


def thunderbird_threads(messages: Dict[str, Sequence[str]]) -> List[set]:
    """Group Message-IDs the way Thunderbird (JWZ) does: a message joins the thread of
    every id in its References / In-Reply-To chain. `messages`: id → its chain."""
    parent: Dict[str, str] = {}

    def root(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for mid, chain in messages.items():
        for ref in chain:
            parent[root(ref)] = root(mid)
    groups: Dict[str, set] = {}
    for mid in messages:
        groups.setdefault(root(mid), set()).add(mid)
    return list(groups.values())


def chain_of(data: bytes) -> List[str]:
    return list(dict.fromkeys(field(data, "References").split() + field(data, "In-Reply-To").split()))


def test_fold_ids_never_breaks_an_id():
    folded = fold_ids("References", [EXCHANGE_OLDER, GMAIL, EXCHANGE])
    assert [line.strip() for line in folded.split("\n")] == [EXCHANGE_OLDER, GMAIL, EXCHANGE]


@pytest.mark.parametrize("client, header_id, thread_id, references", SHAPES)
def test_composed_reply_keeps_every_id_shape(client, header_id, thread_id, references):
    refs = tuple(references.split()) if references else ()
    msg = compose_reply(ReplyTo(thread_id, refs, "Frage", "k@musterhandel.example"), "Guten Tag",
                        language="de", from_address="support@ks1-support.example", from_name="KS1 Support",
                        message_id="<ks1.auto.0123@ks1bot.invalid>", date=dt.datetime.now(dt.timezone.utc))
    assert_ids_on_the_wire(to_bytes(msg), thread_id, refs)


def test_bot_and_staff_replies_thread_for_every_shape_through_the_gateway(gateway, sink, stub_router):
    gw = gateway(stub_router, relay=sink)
    for client, header_id, _thread_id, references in SHAPES:
        code, _ = send(gw, customer_mail(client, header_id, references, references.split()[-1] if references else None),
                       mail_from=f"{client}@musterhandel.example")
        assert code == 250
    received = sink.wait_for(len(SHAPES), timeout=60)
    assert len(received) == len(SHAPES) and gw.wait_idle(30)
    by_parent = {field(r.data, "In-Reply-To"): r for r in received}
    for client, _header_id, thread_id, references in SHAPES:
        reply = by_parent[thread_id]
        assert reply.rcpt_tos == [f"{client}@musterhandel.example"]
        assert_ids_on_the_wire(reply.data, thread_id, tuple(references.split()) if references else ())

    # the Notes customer answers our reply (no brackets again); the mail joins the conversation
    notes_reply = by_parent[f"<{NOTES}>"]
    ours = field(notes_reply.data, "Message-ID")
    answer_id = "OF99AA.11BB@notes.musterhandel.example"
    send(gw, customer_mail("notes", answer_id, references=f"{NOTES} {ours.strip('<>')}", in_reply_to=ours.strip("<>"),
                           text="Guten Tag, der Fehler kommt weiterhin. Bitte rufen Sie mich an."),
         mail_from="notes@musterhandel.example")
    assert gw.wait_idle(30)
    [row] = gw.store.query("SELECT conversation_id, route FROM inbound WHERE message_id=?", (f"<{answer_id}>",))
    assert row["conversation_id"] == f"<{NOTES}>" and row["route"] == "handoff"

    # staff answer the Exchange and the Notes customers from the console's outbox
    for thread_id in (EXCHANGE_OLDER, f"<{NOTES}>"):
        handoff = next(h for h in gw.handoffs.list(channel="email") if h.conversation_id == thread_id)
        assert gw.handoffs.reply(handoff.id, "Anna Schmidt", "Guten Tag,\n\nwir rufen Sie an.", f"f-{handoff.id}").ok
    received = sink.wait_for(len(SHAPES) + 2, timeout=60)
    staff = [r for r in received if "<ks1.staff." in field(r.data, "Message-ID")]
    assert len(staff) == 2
    exchange_staff = next(r for r in staff if field(r.data, "In-Reply-To") == EXCHANGE)
    assert_ids_on_the_wire(exchange_staff.data, EXCHANGE, (EXCHANGE_OLDER,))
    notes_staff = next(r for r in staff if field(r.data, "In-Reply-To") == f"<{answer_id}>")
    assert_ids_on_the_wire(notes_staff.data, f"<{answer_id}>", (f"<{NOTES}>", ours))

    # Thunderbird's view: each customer's mails and our replies are one thread, and only one
    messages = {field(r.data, "Message-ID"): chain_of(r.data) for r in received}
    for client, _header_id, thread_id, references in SHAPES:
        messages[thread_id] = references.split() if references else []
    messages[f"<{answer_id}>"] = [f"<{NOTES}>", ours]
    threads = thunderbird_threads(messages)
    assert len(threads) == len(SHAPES)
    for _client, _header_id, thread_id, _references in SHAPES:
        [thread] = [t for t in threads if thread_id in t]
        assert field(by_parent[thread_id].data, "Message-ID") in thread
    [notes_thread] = [t for t in threads if f"<{NOTES}>" in t]
    assert {f"<{answer_id}>", field(notes_staff.data, "Message-ID")} <= notes_thread
    time.sleep(0.2)
