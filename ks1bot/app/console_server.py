"""`python -m ks1bot.app.console_server [--settings FILE] [--host HOST] [--port PORT]`: the
staff console's process as `ks1bot serve` starts it (`ks1bot console serve` does the same
from the command line). It loads the wiring, the console and the chat widget's web routes:
not the mail gateway, no relay settings (`ks1bot serve` gives the mail credentials to the
mail gateway's process only). Replies and hand-backs go to the outbox; the channels'
own processes deliver them."""
from __future__ import annotations

import argparse
import sys
from typing import List, Optional

from console import cli as console_cli
from ks1bot.app import wiring


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="console_server", description="the staff console web app")
    parser.add_argument("--settings", help="settings file (default: settings.yml or KS1BOT_SETTINGS)")
    parser.add_argument("--host")
    parser.add_argument("--port", type=int)
    return console_cli.cmd_console_serve(parser.parse_args(argv), console_app=wiring.console_app)


if __name__ == "__main__":
    sys.exit(main())
