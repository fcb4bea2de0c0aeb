"""Named crash points for the exactly-once test: `CrashPoints("after_store")` makes the
gateway process exit at once (os._exit, no clean-up) the first time a mail reaches that
step. The tests inject it (MailGateway(crash=…), through tests/support/mail_launcher.py);
the product only calls `crash(step, **ids)` at each step, a no-op by default."""
from __future__ import annotations

import logging
import os
import sys
from typing import Callable, FrozenSet, Iterable

from ks1bot.core import logs

EXIT_CODE = 86
#: The steps of one IMAP mail, in order (SMTP mail has the same from after_enqueue on).
STEPS = (
    "after_fetch",          # read from IMAP, not yet in the queue
    "after_enqueue",        # in the queue, not yet claimed by the worker
    "after_claim",          # claimed (processing), not yet routed
    "after_route",          # routed and reply composed, outcome not yet stored
    "after_store",          # outcome stored and reply queued, reply not yet sent
    "after_relay_accept",   # the relay said 250, not yet recorded as sent
    "after_sent",           # recorded as sent
    "after_move",           # moved on the IMAP server, not yet recorded as moved
)
log = logging.getLogger("mail_gateway.crash")


class CrashPoints:
    def __init__(self, steps: Iterable[str] = (), exit: Callable[[int], None] = os._exit) -> None:
        self.steps: FrozenSet[str] = frozenset(s.strip() for s in steps if s.strip())
        unknown = self.steps - set(STEPS)
        if unknown:
            raise ValueError(f"unknown crash steps {sorted(unknown)}; known: {', '.join(STEPS)}")
        self._exit = exit

    def __call__(self, step: str, **ids) -> None:
        if step in self.steps:
            logs.event(log, "crash_point", logging.WARNING, step=step, **ids)
            for handler in logging.getLogger().handlers:
                handler.flush()
            sys.stderr.flush()
            self._exit(EXIT_CODE)
