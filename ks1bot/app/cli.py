"""The `ks1bot` command: route, train, shell, serve, kb, and the commands of the console
(`staff`, `console`), the email channel (`mail`), `bench` and `calibrate`."""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import IO, Callable, Iterable, List, Optional

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from console import cli as console_cli  # noqa: E402
from ks1bot.app import bench_cli, calibrate_cli, deploy_cli, learn_cli, wiring  # noqa: E402
from ks1bot.core import logs  # noqa: E402
from ks1bot.core.customers import CustomerFileError  # noqa: E402
from ks1bot.core.messages import InboundMessage, now_utc  # noqa: E402
from ks1bot.core.settings import Settings, SettingsError, load_settings  # noqa: E402
from mail_gateway import cli as mail_cli  # noqa: E402

log = logging.getLogger("ks1bot.cli")

EXIT_USAGE = 2


class CliError(Exception):
    """A problem the user can fix; printed as one sentence, exit code 2."""


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(Path(args.settings) if args.settings else None)


# -- route -------------------------------------------------------------------------
def _read_lines(source: IO[bytes]) -> Iterable[bytes]:
    for raw in source:
        yield raw.rstrip(b"\r\n")


def json_line(obj) -> str:
    """One JSONL line; Unicode line separators are escaped so no reader splits the line."""
    text = json.dumps(obj, ensure_ascii=False)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029").replace("\x85", "\\u0085") + "\n"


def route_lines(router, lines: Iterable[bytes], out: IO[str],
                screen: Callable[[InboundMessage], InboundMessage] = lambda message: message) -> dict:
    """Route JSONL lines; `screen` is the email channel's loop protection (the lines come
    with no channel in front of them)."""
    from ks1bot.core.messages import InputError, parse_route_line

    counts = {"routed": 0, "errors": 0}
    for number, raw in enumerate(lines, start=1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            result = {"id": None, "error": f"line {number} is not UTF-8 text; save the file as UTF-8"}
        else:
            if not line.strip():
                result = {"id": None, "error": f"line {number} is empty; write one JSON object per line"}
            else:
                parsed = parse_route_line(line)
                if isinstance(parsed, InputError):
                    result = {"id": parsed.id, "error": parsed.error}
                else:
                    try:
                        routed = router.route(screen(parsed))
                        result = routed.to_output()
                        logs.event(log, "message_routed", message_id=parsed.id, channel=parsed.channel,
                                   topic=result["topic"], route=result["route"], reasons=result["reasons"])
                    except Exception as exc:  # one bad message must not stop the run
                        logs.event(log, "message_failed", logging.ERROR, message_id=parsed.id, error=repr(exc))
                        result = {"id": parsed.id, "error": f"internal error while routing this message ({exc})"}
        counts["errors" if "error" in result else "routed"] += 1
        out.write(json_line(result))
        out.flush()
    return counts


def cmd_route(args: argparse.Namespace) -> int:
    settings = _settings(args)
    customers = Path(args.customers) if args.customers else settings.customers
    # Check the inputs before the slow model load, so a typo fails fast.
    wiring.customer_directory(customers)
    if args.input != "-" and not Path(args.input).is_file():
        raise CliError(f"The input file {args.input} does not exist; pass a JSONL file with --input.")
    router = wiring.build_router(settings, customers)
    source = sys.stdin.buffer if args.input == "-" else open(args.input, "rb")
    out = sys.stdout if not args.output else open(args.output, "w", encoding="utf-8")
    try:
        counts = route_lines(router, _read_lines(source), out, wiring.screening(settings))
    finally:
        if source is not sys.stdin.buffer:
            source.close()
        if out is not sys.stdout:
            out.close()
    _progress(f"Routed {counts['routed']} messages, {counts['errors']} lines with errors.")
    return 0


# -- train -------------------------------------------------------------------------
def cmd_train(args: argparse.Namespace) -> int:
    from ks1bot.nlu.model_store import current_model, train
    from ks1bot.nlu.rasa_logs import quiet_rasa

    settings = _settings(args)
    quiet_rasa()
    if args.if_stale:
        found = current_model(settings.models_dir)
        if found is not None:
            _progress(f"Model {found.name} is current; nothing to train.")
            return 0
    model = train(settings.models_dir, progress=_progress)
    _progress(f"Model ready: {model}")
    return 0


# -- shell -------------------------------------------------------------------------
def cmd_shell(args: argparse.Namespace) -> int:
    settings = _settings(args)
    customers = Path(args.customers) if args.customers else settings.customers
    router = wiring.build_router(settings, customers)
    screen = wiring.screening(settings)
    print("KS1 support bot. Type a message (as a customer would); /quit ends, /reset starts a new conversation.")
    handed_off = False
    count = 0
    while True:
        try:
            line = input("you> ")
        except (EOFError, KeyboardInterrupt):
            print()
            return 0
        if line.strip() in ("/quit", "/exit"):
            return 0
        if line.strip() == "/reset":
            handed_off = False
            print("(new conversation)")
            continue
        if not line.strip():
            continue
        if handed_off:
            print("(this conversation is with a staff member; the bot stays silent — /reset starts over)")
            continue
        count += 1
        message = InboundMessage(id=f"shell-{count}", channel=args.channel, received_at=now_utc(),
                                 sender=args.sender or "", text=line)
        routed = router.route(screen(message))
        d = routed.decision
        print(f"bot> {routed.reply or '(no reply)'}")
        print(f"     [{d.route} · {d.topic} {d.confidence:.2f} · {d.priority} · {', '.join(d.reasons)}]")
        handed_off = d.route == "handoff"


# -- serve -------------------------------------------------------------------------
def cmd_serve(args: argparse.Namespace) -> int:
    from ks1bot.app.serve import Ports, serve

    settings = _settings(args)
    return serve(settings, Ports(rasa=args.rasa_port, actions=args.actions_port, console=args.console_port,
                                 mail_smtp=args.smtp_listen, mail_http=args.mail_http_listen, rasa_host=args.rasa_host,
                                 actions_host=args.actions_host, console_host=args.console_host),
                 role=args.role or settings.serve.role, workers=args.workers or settings.serve.workers)


# -- kb ----------------------------------------------------------------------------
def cmd_kb_calibrate(args: argparse.Namespace) -> int:
    from ks1bot.nlu.kb_calibration import calibrate, load_calibration_set
    from ks1bot.nlu.knowledge import KnowledgeBase
    from ks1bot.nlu.rasa_config import load_configured_embedder

    settings = _settings(args)
    knowledge = KnowledgeBase.load(settings.knowledge_dir, load_configured_embedder())
    cases = load_calibration_set(Path(args.file) if args.file else settings.knowledge_dir / "calibration.yml")
    topic_of = None
    if not args.all_topics:
        from ks1bot.core.text import classification_text
        from ks1bot.nlu.model_store import ensure_model
        from ks1bot.nlu.parse import RasaClassifier
        from ks1bot.nlu.rasa_logs import quiet_rasa

        quiet_rasa()
        classifier = RasaClassifier(ensure_model(settings.models_dir, progress=_progress))
        topic_of = lambda text: classifier.classify(classification_text(text)).topic  # noqa: E731
    report = calibrate(knowledge, cases, beta=args.beta, topic_of=topic_of)
    print(report.describe())
    return 0


def cmd_kb_check(args: argparse.Namespace) -> int:
    from ks1bot.nlu.knowledge import load_articles

    settings = _settings(args)
    articles, problems = load_articles(settings.knowledge_dir)
    for problem in problems:
        print(f"problem: {problem}")
    ids = sorted({a.id for a in articles})
    print(f"{len(articles)} article files, {len(ids)} articles: {', '.join(ids)}")
    return 1 if problems else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ks1bot", description="KS1 support bot")
    parser.add_argument("--settings", help="settings file (default: settings.yml)")
    sub = parser.add_subparsers(dest="command", required=True)

    route = sub.add_parser("route", help="route a JSONL file of messages (SPEC §7)")
    route.add_argument("--input", required=True, help="JSONL input file, - for stdin")
    route.add_argument("--customers", help="customer directory CSV (default: from settings)")
    route.add_argument("--output", help="JSONL output file (default: stdout)")
    route.set_defaults(func=cmd_route)

    train = sub.add_parser("train", help="train the Rasa model")
    train.add_argument("--if-stale", action="store_true", help="only when the model is missing or outdated")
    train.set_defaults(func=cmd_train)

    shell = sub.add_parser("shell", help="talk to the bot in the terminal")
    shell.add_argument("--channel", choices=("chat", "call", "email"), default="chat")
    shell.add_argument("--sender", help="your address or phone number, for the customer lookup")
    shell.add_argument("--customers", help="customer directory CSV (default: from settings)")
    shell.set_defaults(func=cmd_shell)

    serve = sub.add_parser("serve", help="run the bot: Rasa server, action server, console, channels (make run)")
    serve.add_argument("--rasa-port", type=int, default=5005)
    serve.add_argument("--actions-port", type=int, default=5055)
    serve.add_argument("--console-port", type=int, help="default: console.port in settings (8000)")
    serve.add_argument("--smtp-listen", metavar="HOST:PORT", help="inbound SMTP of the email channel (127.0.0.1:2525)")
    serve.add_argument("--role", choices=("rasa", "actions", "console", "mail"),
                       help="run the processes of one role only (default: serve.role in settings, else all roles: "
                            "make run); README \"Scale-out\"")
    serve.add_argument("--workers", type=int, metavar="N",
                       help="processes of the role, on consecutive ports from the role's port (default: serve.workers, 1)")
    serve.add_argument("--mail-http-listen", metavar="HOST:PORT",
                       help="the mail workers' /healthz, /readyz, /metrics (default with --role mail: 127.0.0.1:8025)")
    for name, setting in (("rasa", "security.rasa_host"), ("actions", "security.actions_host"),
                          ("console", "console.host")):
        serve.add_argument(f"--{name}-host", metavar="ADDRESS",
                           help=f"interface the {name} server listens on (default: {setting}, 127.0.0.1); "
                                "another one opens the port beyond this machine (docs/security.md)")
    serve.set_defaults(func=cmd_serve)

    kb = sub.add_parser("kb", help="knowledge base tools")
    kb_sub = kb.add_subparsers(dest="kb_command", required=True)
    calibrate = kb_sub.add_parser("calibrate", help="measure the similarity threshold on a labelled set")
    calibrate.add_argument("--file", help="calibration YAML (default: data/knowledge/calibration.yml)")
    calibrate.add_argument("--beta", type=float, default=0.5,
                           help="F-beta to maximise (0.5: precision counts twice as much as recall)")
    calibrate.add_argument("--all-topics", action="store_true",
                           help="let every article compete (default: search within the classified topic, as routing does)")
    calibrate.set_defaults(func=cmd_kb_calibrate)
    check = kb_sub.add_parser("check", help="check every article file")
    check.set_defaults(func=cmd_kb_check)

    # Commands of the console and the email channel (their packages; the parts they
    # run are built here, by wiring) and of the benchmark and calibration tools.
    console_cli.register(sub, console_app=wiring.console_app, staff_accounts=wiring.staff_accounts)
    mail_cli.register(sub, build_gateway=wiring.mail_gateway, open_files=wiring.attachments_in)
    bench_cli.register(sub)
    calibrate_cli.register(sub)
    deploy_cli.register(sub)
    learn_cli.register(sub, _settings)
    from ks1bot.conversations import sqlite_to_postgres

    sqlite_to_postgres.register(sub)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logs.configure()
    try:
        return args.func(args) or 0
    except (CliError, SettingsError, CustomerFileError, bench_cli.BenchUnavailable, learn_cli.LearnError) as exc:
        print(f"ks1bot: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
