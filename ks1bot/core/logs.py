"""Structured logs: one JSON object per line, with an event name and ids."""
from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from typing import Any


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update(fields)
        else:
            entry["message"] = record.getMessage()
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def event(logger: logging.Logger, name: str, level: int = logging.INFO, **fields: Any) -> None:
    """Log one event: `event(log, "message_routed", message_id="d01", route="exclude")`."""
    logger.log(level, name, extra={"fields": {"event": name, **fields}})


def configure(level: int = logging.INFO, stream=None) -> None:
    """JSON lines on stderr for our loggers; Rasa and TensorFlow chatter kept at warnings."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    for name in ("ks1bot", "mail_gateway", "console", "actions"):
        logging.getLogger(name).setLevel(level)


def configure_own_loggers(level: int = logging.INFO, stream=None) -> None:
    """JSON lines for our loggers only, inside a host that configures logging itself
    (the Rasa action server)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    for name in ("ks1bot", "mail_gateway", "console", "actions"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(level)
        logger.propagate = False
    logging.getLogger("alembic").setLevel(logging.WARNING)
