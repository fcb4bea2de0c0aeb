"""`ks1bot mail …` with test parts injected: a real mail gateway process (the product's
command line and MailGateway), with crash points and, optionally, the stub router.

    python -m tests.support.mail_launcher [--crash-at STEP[,STEP]] [--stub-router] \
        [--settings FILE] mail serve --imap URL --relay HOST:PORT --data-dir DIR

Run from the project root (it imports `tests.support`)."""
from __future__ import annotations

import argparse
import sys
from typing import List, Optional

from ks1bot.app import wiring
from ks1bot.core import logs
from mail_gateway import cli as mail_cli
from tests.support import stub_router
from tests.support.crash_points import CrashPoints


def main(argv: Optional[List[str]] = None) -> int:
    own = argparse.ArgumentParser(add_help=False)
    own.add_argument("--crash-at", default="", help="comma-separated crash steps (tests/support/crash_points.py)")
    own.add_argument("--stub-router", action="store_true", help="keyword parser instead of the trained model")
    options, rest = own.parse_known_args(argv)
    crash = CrashPoints(options.crash_at.split(","))

    def build_gateway(settings, config):
        router = stub_router.build(settings, config.customers) if options.stub_router else None
        return wiring.mail_gateway(settings, config, router=router, crash=crash)

    parser = argparse.ArgumentParser(prog="mail_launcher")
    parser.add_argument("--settings")
    mail_cli.register(parser.add_subparsers(dest="command", required=True), build_gateway=build_gateway)
    args = parser.parse_args(rest)
    logs.configure()
    return args.func(args) or 0


if __name__ == "__main__":
    sys.exit(main())
