"""`ks1bot staff …` and `ks1bot console serve`. The start-up code (ks1bot.app) passes the
functions that build the console app and the staff accounts from the settings."""
from __future__ import annotations

import argparse
import getpass
import sys
from functools import partial
from pathlib import Path
from typing import Any, Callable

#: settings → the console's ASGI app (ks1bot.app.wiring.console_app)
AppFactory = Callable[[Any], Any]
#: settings → console.auth.Auth (ks1bot.app.wiring.staff_accounts)
AccountsFactory = Callable[[Any], Any]


def _settings(args):
    from ks1bot.core.settings import load_settings

    return load_settings(Path(args.settings) if args.settings else None)


def cmd_staff_add(args: argparse.Namespace, staff_accounts: AccountsFactory) -> int:
    from console.auth import AuthError

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass(f"Password for {args.name}: ")
        if password != getpass.getpass("Repeat it: "):
            print("ks1bot: the two passwords differ; nothing was changed.", file=sys.stderr)
            return 2
    try:
        staff_accounts(_settings(args)).add_staff(args.name, password, role=args.role)
    except AuthError as exc:
        print(f"ks1bot: {exc}", file=sys.stderr)
        return 2
    print(f"Staff account {args.name} is ready{f' (role {args.role})' if args.role else ''}; log in at /console.")
    return 0


def cmd_staff_list(args: argparse.Namespace, staff_accounts: AccountsFactory) -> int:
    for name in staff_accounts(_settings(args)).list_staff():
        print(name)
    return 0


def cmd_console_serve(args: argparse.Namespace, console_app: AppFactory) -> int:
    import uvicorn

    from ks1bot.core import logs

    settings = _settings(args)
    logs.configure()
    # proxy_headers off: which proxy's X-Forwarded-* count is security.trusted_proxies' decision
    # (console.app), not uvicorn's default of believing 127.0.0.1
    uvicorn.run(console_app(settings), host=args.host or settings.console.host,
                port=args.port or settings.console.port, proxy_headers=False,
                log_level="warning", access_log=False, ws="none")  # websockets 10 (Rasa's pin) is too old for uvicorn's ws
    return 0


def register(sub, *, console_app: AppFactory, staff_accounts: AccountsFactory) -> None:
    staff = sub.add_parser("staff", help="staff accounts of the console")
    staff_sub = staff.add_subparsers(dest="staff_command", required=True)
    add = staff_sub.add_parser("add", help="add a staff account (or set a new password)")
    add.add_argument("name")
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    add.add_argument("--role", choices=("agent", "lead"),
                     help="agent (default for a new account) or lead: knowledge base, dashboard, learning review")
    add.set_defaults(func=partial(cmd_staff_add, staff_accounts=staff_accounts))
    listing = staff_sub.add_parser("list", help="list staff accounts")
    listing.set_defaults(func=partial(cmd_staff_list, staff_accounts=staff_accounts))

    console = sub.add_parser("console", help="the staff console web app")
    console_sub = console.add_subparsers(dest="console_command", required=True)
    serve = console_sub.add_parser("serve", help="serve the console (make run does this)")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.set_defaults(func=partial(cmd_console_serve, console_app=console_app))
