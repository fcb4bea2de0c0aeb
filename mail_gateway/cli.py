"""`ks1bot mail serve` and `ks1bot mail status` (SPEC §7: a stable interface)."""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import signal
import sys
import threading
from functools import partial
from pathlib import Path
from typing import Any, Callable, Dict, Optional

#: (settings, resolved mail configuration) → a MailGateway with the Router and the
#: conversation record; given by the start-up code (ks1bot.app.wiring.mail_gateway).
GatewayFactory = Callable[[Any, Any], Any]
#: (settings, data directory) → the conversation record's files
#: (ks1bot.conversations.attachments.Attachments; ks1bot.app.wiring.attachments_in).
FilesFactory = Callable[[Any, Path], Any]


def register(subparsers, *, build_gateway: GatewayFactory, open_files: Optional[FilesFactory] = None) -> None:
    mail = subparsers.add_parser("mail", help="the email channel: run the gateway, show its queue")
    sub = mail.add_subparsers(dest="mail_command", required=True)
    serve = sub.add_parser(
        "serve", help="receive mail (SMTP listener, IMAP mailbox), route it, send replies",
        description="Each option can also be set in settings.yml (mail:) or the environment (KS1BOT_MAIL_<OPTION>, "
                    "e.g. KS1BOT_MAIL_IMAP). Passwords: KS1BOT_MAIL_IMAP_PASSWORD, KS1BOT_MAIL_RELAY_PASSWORD.")
    serve.add_argument("--smtp-listen", metavar="HOST:PORT", help="inbound SMTP listener, e.g. 127.0.0.1:2525")
    serve.add_argument("--http-listen", metavar="HOST:PORT",
                       help="/healthz, /readyz and /metrics of this worker, e.g. 127.0.0.1:8025 (default: off)")
    serve.add_argument("--imap", metavar="URL", help="mailbox: imap://user:password@host:143/INBOX, imaps://… for TLS")
    serve.add_argument("--relay", metavar="HOST:PORT", help="outgoing SMTP relay (default: .eml files in the outbox)")
    serve.add_argument("--from", dest="from_address", metavar="ADDRESS", help="sender of replies")
    serve.add_argument("--data-dir", metavar="DIR", help="queue, raw mails and outbox (default: data_dir in settings)")
    serve.add_argument("--customers", metavar="FILE", help="customer directory CSV (default: from settings)")
    serve.set_defaults(func=partial(cmd_serve, build_gateway=build_gateway))
    status = sub.add_parser("status", help="queue depth, failures and the last error")
    status.add_argument("--data-dir", metavar="DIR", help="default: data_dir in settings")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(func=cmd_status)
    cleanup = sub.add_parser(
        "cleanup", help="delete raw mails, sent replies and attachments older than the retention period",
        description="Deletes what is older than mail.retention_days (default 365): the raw mails and composed "
                    "replies of the mail queue, the outbox folder's .eml files and the conversations' files "
                    "(attachments). The running gateway does this once a day by itself.")
    cleanup.add_argument("--data-dir", metavar="DIR", help="default: data_dir in settings")
    cleanup.add_argument("--days", type=float, metavar="N", help="retention in days (default: mail.retention_days)")
    cleanup.add_argument("--dry-run", action="store_true", help="only count what would be deleted")
    cleanup.add_argument("--json", action="store_true", help="machine-readable output")
    cleanup.set_defaults(func=partial(cmd_cleanup, open_files=open_files))


def _settings(args):
    from ks1bot.core.settings import load_settings

    return load_settings(Path(args.settings) if getattr(args, "settings", None) else None)


def _refuse(sentence: str) -> int:
    print(f"ks1bot: {sentence}", file=sys.stderr)
    return 2


def cmd_serve(args: argparse.Namespace, build_gateway: GatewayFactory) -> int:
    from mail_gateway.config import resolve
    from mail_gateway.errors import ConfigError

    settings = _settings(args)
    try:
        config = resolve(settings, smtp_listen=args.smtp_listen, http_listen=args.http_listen, imap=args.imap,
                         relay=args.relay,
                         from_address=args.from_address, data_dir=args.data_dir, customers=args.customers)
    except ConfigError as exc:
        return _refuse(str(exc))
    if not config.smtp_listen and not config.imap:
        return _refuse("Nothing to receive mail from; pass --smtp-listen HOST:PORT and/or --imap URL "
                       "(or set mail.smtp_listen / mail.imap in settings.yml).")
    gateway = build_gateway(settings, config)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        gateway.start()
    except OSError as exc:
        return _refuse(f"The mail gateway cannot start ({exc}); is another process using the SMTP port?")
    parts = []
    if config.smtp_listen:
        parts.append(f"SMTP {config.smtp_listen[0]}:{config.smtp_listen[1]}")
    if config.imap:
        parts.append(f"IMAP {config.imap.describe()}")
    parts.append(f"replies via {config.relay.host}:{config.relay.port}" if config.relay
                 else f"replies to {config.outbox_dir}")
    print(f"Mail gateway up: {'; '.join(parts)}. Ctrl+C stops.", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        gateway.stop()
    return 0


def _when(stamp) -> str:
    if stamp is None:
        return "-"
    return dt.datetime.fromtimestamp(float(stamp), dt.timezone.utc).isoformat(timespec="seconds")


def format_status(path: Path, s: Dict[str, Any]) -> str:
    i, r = s["inbound"], s["replies"]
    lines = [
        f"Mail queue {path}",
        f"  queue depth: {s['queue_depth']} (queued {i['queued']}, processing {i['processing']})",
        f"  outcomes:    processed {i['processed']} (handed to staff {s['handed_to_staff']}), ignored {i['ignored']}, "
        f"failed {i['failed']}",
        f"  replies:     sent {r['sent']}, pending {r['pending']} (retrying {s['replies_retrying']}), "
        f"unconfirmed {r['unconfirmed']}, failed {r['failed']}",
        f"  duplicates:  {s['duplicates']} (same Message-ID received again, not stored twice)",
    ]
    if s["ignored_reasons"]:
        lines.append("  ignored:     " + ", ".join(f"{k} {v}" for k, v in sorted(s["ignored_reasons"].items())))
    last = s["last_error"]
    lines.append(f"  last error:  {_when(last['at'])} {last['what']} {last['message_id']}: {last['error']}"
                 if last else "  last error:  none")
    if s["failures"]:
        lines.append("Failed mail (needs a person):")
        for f in s["failures"]:
            lines.append(f"  #{f['id']} {f['message_id']} from {f['sender'] or '?'}: {f['reason']} — {f['last_error']}")
    if s["to_staff_after_failure"]:
        lines.append(f"Handed to staff because the gateway could not handle them "
                     f"({s['to_staff_after_failure_count']}; see the console):")
        for f in s["to_staff_after_failure"]:
            lines.append(f"  #{f['id']} {f['message_id']} from {f['sender'] or '?'}: {f['reason']} — {f['last_error']}")
    if s["reply_failures"]:
        lines.append("Replies that failed or are unconfirmed:")
        for f in s["reply_failures"]:
            lines.append(f"  {f['message_id']} to {f['recipient']}: {f['state']} after {f['attempts']} attempts — "
                         f"{f['last_error']}")
    return "\n".join(lines)


def cmd_status(args: argparse.Namespace) -> int:
    from mail_gateway.store import MailStore

    settings = _settings(args)
    data_dir = Path(args.data_dir or os.environ.get("KS1BOT_MAIL_DATA_DIR") or settings.data_dir).resolve()
    mail_dir = data_dir / "mail"
    url = os.environ.get("KS1BOT_DATABASE_URL") or settings.database_url  # the queue in the shared database
    if not url and not (mail_dir / "queue.sqlite3").is_file():
        empty = {"queue": str(mail_dir / "queue.sqlite3"), "exists": False}
        print(json.dumps(empty) if args.json else f"No mail queue yet at {mail_dir / 'queue.sqlite3'}: "
              "no mail has been received (start it with `ks1bot mail serve`).")
        return 0
    store = MailStore(mail_dir, url=url or None)
    summary = store.summary()
    if args.json:
        print(json.dumps(dict(summary, queue=str(store.path), exists=True), ensure_ascii=False, default=str))
    else:
        print(format_status(store.path, summary))
    sys.stdout.flush()
    return 0


def cmd_cleanup(args: argparse.Namespace, open_files: Optional[FilesFactory] = None) -> int:
    from mail_gateway.retention import NoQueue, retention_cleanup
    from mail_gateway.store import MailStore

    settings = _settings(args)
    data_dir = Path(args.data_dir or os.environ.get("KS1BOT_MAIL_DATA_DIR") or settings.data_dir).resolve()
    days = args.days if args.days is not None else settings.mail.retention_days
    if days <= 0:
        return _refuse(f"--days must be more than 0 (it is {days}); the default is mail.retention_days.")
    mail_dir = data_dir / "mail"
    url = os.environ.get("KS1BOT_DATABASE_URL") or settings.database_url  # the queue in the shared database
    store = MailStore(mail_dir, url=url) if url else MailStore(mail_dir) if (mail_dir / "queue.sqlite3").is_file() \
        else None
    # no attachments folder: nothing of the conversation record's files to delete (and no
    # database to create for nothing)
    files = open_files(settings, data_dir) if open_files is not None and (data_dir / "attachments").is_dir() else None
    counts = retention_cleanup(store or NoQueue(), files, mail_dir / "outbox", days, args.dry_run)
    if args.json:
        print(json.dumps(counts))
    else:
        verb = "Would delete" if args.dry_run else "Deleted"
        print(f"{verb} what is older than {days:g} days (before {counts['before']}): "
              f"{counts['raw_mails']} raw mails, {counts['replies']} composed replies, "
              f"{counts['outbox_files']} outbox files, {counts.get('attachment_rows', 0)} attachments "
              f"({counts.get('attachment_files', 0)} files) in {data_dir}.")
    return 0

