"""`ks1bot staff …` and `ks1bot console serve`."""
from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path


def _settings(args):
    from ks1bot.settings import load_settings

    return load_settings(Path(args.settings) if args.settings else None)


def cmd_staff_add(args: argparse.Namespace) -> int:
    from console.auth import AuthError
    from console.service import auth_for

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass(f"Password for {args.name}: ")
        if password != getpass.getpass("Repeat it: "):
            print("ks1bot: the two passwords differ; nothing was changed.", file=sys.stderr)
            return 2
    try:
        auth_for(_settings(args)).add_staff(args.name, password)
    except AuthError as exc:
        print(f"ks1bot: {exc}", file=sys.stderr)
        return 2
    print(f"Staff account {args.name} is ready; log in at /console.")
    return 0


def cmd_staff_list(args: argparse.Namespace) -> int:
    from console.service import auth_for

    for name in auth_for(_settings(args)).list_staff():
        print(name)
    return 0


def cmd_console_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from console.channels_live import live_channels
    from console.service import console_app
    from ks1bot import logs

    settings = _settings(args)
    logs.configure()
    app = console_app(settings, live_channels(settings))
    uvicorn.run(app, host=args.host or settings.console.host, port=args.port or settings.console.port,
                log_level="warning", access_log=False, ws="none")  # websockets 10 (Rasa's pin) is too old for uvicorn's ws
    return 0


def register(sub) -> None:
    staff = sub.add_parser("staff", help="staff accounts of the console")
    staff_sub = staff.add_subparsers(dest="staff_command", required=True)
    add = staff_sub.add_parser("add", help="add a staff account (or set a new password)")
    add.add_argument("name")
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    add.set_defaults(func=cmd_staff_add)
    listing = staff_sub.add_parser("list", help="list staff accounts")
    listing.set_defaults(func=cmd_staff_list)

    console = sub.add_parser("console", help="the staff console web app")
    console_sub = console.add_subparsers(dest="console_command", required=True)
    serve = console_sub.add_parser("serve", help="serve the console (make run does this)")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.set_defaults(func=cmd_console_serve)
