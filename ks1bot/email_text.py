"""The new part of an email body: quoted history and signatures removed (German and English)."""
from __future__ import annotations

import re

from mailparser_reply import EmailReplyParser

# Separators after which everything is quoted history, whatever the library finds.
_HISTORY_SEPARATORS = re.compile(
    r"^\s*(-{2,}\s*(Ursprüngliche Nachricht|Original Message|Originalnachricht|Weitergeleitete Nachricht|"
    r"Forwarded message)\s*-{2,}.*"
    r"|_{10,}\s*"
    r"|(Von|From)\s*:.*\n\s*(Gesendet|Sent|Datum|Date)\s*:.*"
    r"|Am .{4,120}(schrieb|wrote).{0,120}:\s*"
    r"|On .{4,160}wrote:\s*)$",
    re.IGNORECASE | re.MULTILINE,
)
# A classic "-- " signature delimiter line.
_SIGNATURE_DELIMITER = re.compile(r"^-- ?$", re.MULTILINE)

_parser = EmailReplyParser(languages=["de", "en"])


def latest_reply(body: str) -> str:
    """The text the sender wrote now: no quoted history, no signature block.

    Falls back to the less-stripped text whenever stripping would leave nothing.
    """
    text = body.replace("\r\n", "\n").replace("\r", "\n")
    match = _HISTORY_SEPARATORS.search(text)
    if match and text[: match.start()].strip():
        text = text[: match.start()]
    delimiter = _SIGNATURE_DELIMITER.search(text)
    if delimiter and text[: delimiter.start()].strip():
        text = text[: delimiter.start()]
    unquoted = "\n".join(line for line in text.split("\n") if not line.lstrip().startswith(">"))
    if unquoted.strip():
        text = unquoted
    try:
        replies = _parser.read(text).replies
        stripped = replies[0].body if replies else ""
    except (re.error, RecursionError, IndexError):
        stripped = ""
    return stripped.strip() if stripped.strip() else text.strip()
