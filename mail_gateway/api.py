"""What the staff console uses: email threads as plain dataclasses, and staff replies
sent through the same sender as the bot's (threaded, exactly once).

    from mail_gateway import api
    api.list_threads()                         # [ThreadSummary, …], newest first
    api.get_thread(conversation_id)            # Thread with every mail in and out
    api.send_staff_reply(conversation_id, "Guten Tag, …", "Anna Schmidt")
    api.hand_back_to_bot(conversation_id)      # the next mail is the bot's again
"""
from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass
from typing import List, Optional, Tuple

from mail_gateway.compose import ReplyTo, compose_reply, staff_message_id, to_bytes
from mail_gateway.config import MailConfig
from mail_gateway.sender import Sender
from mail_gateway.store import MailStore, NewOutbound, write_atomic


@dataclass(frozen=True)
class ThreadMessage:
    direction: str  # "in" (customer) | "out" (bot or staff)
    message_id: str
    at: dt.datetime
    sender: str
    recipient: str
    subject: str
    text: str
    #: in: queued/processing/processed/ignored/failed; out: pending/sending/sent/unconfirmed/failed
    status: str
    route: Optional[str] = None
    reasons: Tuple[str, ...] = ()
    #: out: auto_reply | staff_reply
    kind: Optional[str] = None
    staff_name: Optional[str] = None


@dataclass(frozen=True)
class ThreadSummary:
    conversation_id: str
    state: str  # bot | handoff
    subject: str
    customer_address: str
    last_activity: dt.datetime
    messages: int


@dataclass(frozen=True)
class Thread:
    conversation_id: str
    state: str
    subject: str
    customer_address: str
    messages: Tuple[ThreadMessage, ...]


@dataclass(frozen=True)
class StaffReply:
    message_id: str
    conversation_id: str
    #: sent, or pending when the relay is unreachable now (the gateway retries it).
    state: str


def _config(config: Optional[MailConfig]) -> MailConfig:
    if config is not None:
        return config
    from ks1bot.settings import load_settings
    from mail_gateway.config import resolve

    return resolve(load_settings())


def _store(config: MailConfig) -> MailStore:
    return MailStore(config.mail_dir)


def _at(stamp: Optional[float]) -> dt.datetime:
    return dt.datetime.fromtimestamp(float(stamp or 0), dt.timezone.utc)


def list_threads(state: Optional[str] = None, *, config: Optional[MailConfig] = None) -> List[ThreadSummary]:
    """Every email conversation, newest activity first; `state` filters (bot, handoff)."""
    store = _store(_config(config))
    rows = store.query(
        "SELECT c.conversation_id, c.state, c.subject, c.customer_address, c.updated_at, "
        "(SELECT COUNT(*) FROM inbound i WHERE i.conversation_id = c.conversation_id) + "
        "(SELECT COUNT(*) FROM outbound o WHERE o.conversation_id = c.conversation_id) AS n "
        "FROM conversations c WHERE (? IS NULL OR c.state = ?) ORDER BY c.updated_at DESC", (state, state))
    return [ThreadSummary(r["conversation_id"], r["state"], r["subject"] or "", r["customer_address"] or "",
                          _at(r["updated_at"]), r["n"]) for r in rows]


def get_thread(conversation_id: str, *, config: Optional[MailConfig] = None) -> Optional[Thread]:
    """The conversation with every mail in and out, oldest first; None when unknown."""
    store = _store(_config(config))
    head = store.query("SELECT * FROM conversations WHERE conversation_id=?", (conversation_id,))
    if not head:
        return None
    messages: List[ThreadMessage] = []
    for r in store.query("SELECT * FROM inbound WHERE conversation_id=? ORDER BY received_at, id", (conversation_id,)):
        decision = json.loads(r["decision_json"]) if r["decision_json"] else {}
        messages.append(ThreadMessage("in", r["message_id"], _at(r["received_at"]), r["sender"] or "", "",
                                      r["subject"] or "", r["text"] or "", r["status"], r["route"],
                                      tuple(decision.get("reasons") or ())))
    for r in store.query("SELECT * FROM outbound WHERE conversation_id=? ORDER BY created_at, id", (conversation_id,)):
        messages.append(ThreadMessage("out", r["message_id"], _at(r["sent_at"] or r["created_at"]), "", r["recipient"],
                                      r["subject"] or "", r["text"] or "", r["state"], kind=r["kind"],
                                      staff_name=r["staff_name"]))
    messages.sort(key=lambda m: m.at)
    h = head[0]
    return Thread(conversation_id, h["state"], h["subject"] or "", h["customer_address"] or "", tuple(messages))


def hand_back_to_bot(conversation_id: str, *, config: Optional[MailConfig] = None) -> bool:
    return _store(_config(config)).set_conversation_state(conversation_id, "bot")


def send_staff_reply(conversation_id: str, text: str, staff_name: str, *, config: Optional[MailConfig] = None,
                     sender: Optional[Sender] = None,
                     clock=lambda: dt.datetime.now(dt.timezone.utc)) -> StaffReply:
    """Reply to the customer's latest mail of the conversation, threaded, through the
    relay (or outbox). Raises LookupError for an unknown conversation and ValueError for
    an empty text. When the relay is down now, the reply stays queued and the running
    gateway sends it (state "pending")."""
    from mail_gateway.gateway import build_sender
    from mail_gateway.worker import Worker

    if not text.strip():
        raise ValueError("The reply is empty; write the text to send.")
    config = _config(config)
    store = _store(config)
    latest = store.query("SELECT * FROM inbound WHERE conversation_id=? ORDER BY received_at DESC, id DESC LIMIT 1",
                         (conversation_id,))
    if not latest:
        raise LookupError(f"No email conversation {conversation_id}.")
    parent_row = latest[0]
    from mail_gateway.parsing import parse_mail

    parent = parse_mail((store.directory / parent_row["raw_path"]).read_bytes(), parent_row["envelope_sender"])
    now = clock()
    message_id = staff_message_id(conversation_id, config.message_id_domain, now, uuid.uuid4().hex)
    language = parent_row["language"] or "de"
    msg = compose_reply(ReplyTo(parent.message_id, parent.references, parent.subject, parent.reply_address), text,
                        language=language, from_address=config.from_address,
                        from_name=f"{staff_name} – {config.from_name}", message_id=message_id, date=now,
                        automatic=False)
    path = store.replies_dir / (message_id.strip("<>") + ".eml")
    write_atomic(path, to_bytes(msg))
    store.add_outbound(NewOutbound(message_id=message_id, conversation_id=conversation_id, kind="staff_reply",
                                   recipient=parent.reply_address, subject=str(msg["Subject"]), text=text,
                                   language=language, eml_path=str(path.relative_to(store.directory)),
                                   staff_name=staff_name))
    own_sender = sender is None
    sender = sender or build_sender(config)
    try:
        worker = Worker(store, None, config, sender)
        row = store.claim_outbound(worker.me, message_id=message_id)
        if row is not None:
            worker.send(row)
    finally:
        if own_sender:
            sender.close()
    state = store.query("SELECT state FROM outbound WHERE message_id=?", (message_id,))[0]["state"]
    return StaffReply(message_id, conversation_id, state)
