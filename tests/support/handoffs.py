"""A handoff as a channel would create it, for tests of the store, the console and the
channels' delivery."""
from __future__ import annotations

import datetime as dt
import time


def new_handoff(store, channel="call", text="KS1 stürzt beim Buchen ab", subject=None, sender="+4923112233",
                topic="bug_report", priority="normal", **kw):
    from ks1bot.conversations.store import NewHandoff

    return store.create(NewHandoff(
        channel=channel, conversation_id=kw.pop("conversation_id", f"conv-{time.monotonic_ns()}"), sender=sender,
        topic=topic, confidence=0.91, reasons=("topic:bug_report", "customer:C1001"), priority=priority,
        language="de", customer_text=text, acknowledgement="Danke für Ihren Anruf.", subject=subject,
        customer_id="C1001", customer_name="Meier Bau GmbH", contract="support",
        callback_number=sender if channel == "call" else None,
        created_at=kw.pop("created_at", dt.datetime(2026, 11, 17, 10, 0, tzinfo=dt.timezone.utc)), **kw))
