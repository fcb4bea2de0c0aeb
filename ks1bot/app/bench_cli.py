"""`ks1bot bench clinc|xsid|server|realistic|encoders|mail-corpus`: the benchmarks (code in bench/, report in
docs/benchmarks.md). Each prints Markdown tables on stdout, progress on stderr, and
writes its full results as JSON (default: bench/results/<name>.json)."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ks1bot.core.settings import PROJECT_ROOT

RESULTS = PROJECT_ROOT / "bench" / "results"


def _bench(module: str):
    """bench/<module>.py. bench/ is a package of the repository, not of the installed
    distribution: it is importable because the project root is on the path (`make venv`
    installs the project in editable mode; `python -m …` from the root works too)."""
    import importlib

    try:
        return importlib.import_module(f"bench.{module}")
    except ModuleNotFoundError as exc:
        if exc.name not in ("bench", f"bench.{module}"):
            raise
        raise BenchUnavailable(f"the benchmarks (bench/ in the repository, at {PROJECT_ROOT}) are not importable; "
                               "run `make venv` (editable install) or run ks1bot from the repository root") from None


class BenchUnavailable(Exception):
    """bench/ cannot be imported; the message says how to fix it."""


def _finish(name: str, data: dict, markdown: str, output: str | None) -> None:
    path = Path(output) if output else RESULTS / f"{name}.json"
    _bench("common").write_json(data, path)
    print(markdown, flush=True)
    print(f"(results: {path})", file=sys.stderr, flush=True)


def _usage_error(exc: Exception) -> int:
    print(f"ks1bot bench: {exc}", file=sys.stderr)
    return 2


def cmd_clinc(args: argparse.Namespace) -> int:
    clinc = _bench("clinc")
    common = _bench("common")
    try:
        configs = [] if args.skip_ours else [Path(c) for c in (args.config or [PROJECT_ROOT / "config.yml"])]
        data = clinc.run(configs, default=not args.skip_default, default_epochs=args.default_epochs,
                         quick=args.quick, limit=args.limit, schemes=args.scheme or clinc.SCHEMES,
                         objective=args.objective, keep_inscope=args.keep_inscope)
    except common.BenchError as exc:
        return _usage_error(exc)
    _finish("clinc", data, clinc.report(data), args.output)
    if args.plot != "none":
        plot = _bench("plot").plot_clinc(data, Path(args.plot) if args.plot else RESULTS / "clinc.png")
        print(f"(plot: {plot})", file=sys.stderr, flush=True)
    return 0


def cmd_xsid(args: argparse.Namespace) -> int:
    xsid = _bench("xsid")
    common = _bench("common")
    try:
        data = xsid.run(Path(args.config), default=not args.skip_default, default_epochs=args.default_epochs,
                        languages=args.language or ("de", "en"), limit=args.limit)
    except common.BenchError as exc:
        return _usage_error(exc)
    _finish("xsid", data, xsid.report(data), args.output)
    return 0


def cmd_server(args: argparse.Namespace) -> int:
    server = _bench("server_load")
    common = _bench("common")
    try:
        data = server.run(levels=args.concurrency or (1, 10, 50), duration=args.duration,
                          max_messages=args.max_messages, warmup=args.warmup,
                          settings=Path(args.settings) if getattr(args, "settings", None) else None)
    except common.BenchError as exc:
        return _usage_error(exc)
    _finish("server", data, server.report(data), args.output)
    return 0


def cmd_realistic(args: argparse.Namespace) -> int:
    realistic = _bench("realistic")
    sets = realistic.SETS
    if args.input:
        sets = tuple((Path(p).name, Path(p), None) for p in args.input)
    data = realistic.run(quick=args.quick, settings=Path(args.settings) if args.settings else None, sets=sets)
    _finish("realistic", data, realistic.report(data), args.output)
    return 0


def cmd_encoders(args: argparse.Namespace) -> int:
    encoders = _bench("encoders")
    configs = [Path(c) for c in args.config] if args.config else encoders.CONFIGS
    data = encoders.run(configs, quick=args.quick)
    _finish("encoders", data, encoders.report(data), args.output)
    return 0


def cmd_mail_corpus(args: argparse.Namespace) -> int:
    corpus = _bench("mail_corpus")
    data = corpus.run(Path(args.corpus) if args.corpus else corpus.CORPUS,
                      settings_path=Path(args.settings) if getattr(args, "settings", None) else None)
    _finish("mail_corpus", data, corpus.report(data, misses=args.misses), args.output)
    return 0 if corpus.passes(data["figures"]) else 1


def cmd_plot(args: argparse.Namespace) -> int:
    sources = [Path(p) for p in (args.input or [RESULTS / "clinc.json"])]
    missing = [str(p) for p in sources if not p.is_file()]
    if missing:
        return _usage_error(FileNotFoundError(f"{', '.join(missing)} not found; run `ks1bot bench clinc` first."))
    runs = [json.loads(p.read_text(encoding="utf-8")) for p in sources]
    merged = dict(runs[0], results=[r for run in runs for r in run["results"]])
    path = _bench("plot").plot_clinc(merged, Path(args.out))
    print(f"(plot: {path})", file=sys.stderr)
    return 0


def register(subparsers) -> None:
    bench = subparsers.add_parser("bench", help="benchmarks: realistic routing, CLINC150, xSID German, server load")
    sub = bench.add_subparsers(dest="bench_command", required=True)

    clinc = sub.add_parser("clinc", help="CLINC150: in-scope accuracy and out-of-scope recall vs the paper")
    clinc.add_argument("--config", action="append",
                       help="Rasa config whose NLU pipeline to benchmark (repeatable; default: config.yml)")
    clinc.add_argument("--skip-default", action="store_true", help="leave out Rasa's default pipeline")
    clinc.add_argument("--skip-ours", action="store_true", help="only Rasa's default pipeline")
    clinc.add_argument("--default-epochs", type=int, default=8,
                       help="DIET epochs of Rasa's default pipeline (100 as shipped; default 8: the 45-minute budget)")
    clinc.add_argument("--scheme", action="append", choices=("oos-train", "oos-threshold"),
                       help="only this scheme (repeatable; default: both)")
    clinc.add_argument("--objective", choices=("keep", "sum"), default="keep",
                       help="threshold tuning on validation: keep in-scope accuracy (default) or max. the sum")
    clinc.add_argument("--keep-inscope", type=float, default=0.5,
                       help="points of validation in-scope accuracy the threshold may cost (objective keep)")
    clinc.add_argument("--quick", action="store_true", help="train on a stratified 20 %% subsample")
    clinc.add_argument("--limit", type=int, help="only the first N intents (smoke runs)")
    clinc.add_argument("--output", help="results JSON (default: bench/results/clinc.json)")
    clinc.add_argument("--plot", help="PNG of in-scope accuracy vs OOS recall (default: bench/results/clinc.png; "
                                      "none: no plot)")
    clinc.set_defaults(func=cmd_clinc)

    xsid = sub.add_parser("xsid", help="xSID German intent accuracy, with and without embeddings")
    xsid.add_argument("--config", default=str(PROJECT_ROOT / "config.yml"), help="our Rasa config (default: config.yml)")
    xsid.add_argument("--skip-default", action="store_true", help="leave out Rasa's default pipeline")
    xsid.add_argument("--default-epochs", type=int, default=100, help="DIET epochs of Rasa's default (100)")
    xsid.add_argument("--language", action="append", choices=("de", "en"),
                      help="text column: de, or en for the English originals (default: both)")
    xsid.add_argument("--limit", type=int, help="test on the first N utterances, train on 20 %% (smoke runs)")
    xsid.add_argument("--output", help="results JSON (default: bench/results/xsid.json)")
    xsid.set_defaults(func=cmd_xsid)

    server = sub.add_parser("server", help="latency and throughput of `ks1bot serve` under load")
    server.add_argument("--concurrency", type=int, action="append",
                        help="concurrent conversations (repeatable; default: 1, 10, 50)")
    server.add_argument("--duration", type=float, default=30.0, help="seconds per level (default 30)")
    server.add_argument("--max-messages", type=int, default=100_000, help="at most this many messages per level")
    server.add_argument("--warmup", type=int, default=20, help="warm-up messages before measuring")
    server.add_argument("--output", help="results JSON (default: bench/results/server.json)")
    server.set_defaults(func=cmd_server)

    realistic = sub.add_parser("realistic", help="routing on realistic messages, per category, and the "
                                                 "production-down signal")
    realistic.add_argument("--input", action="append", help="labelled JSONL (repeatable; default: the realistic "
                                                            "test and tune sets, the holdout and the dev set)")
    realistic.add_argument("--quick", action="store_true", help="20 messages per set (smoke run)")
    realistic.add_argument("--output", help="results JSON (default: bench/results/realistic.json)")
    realistic.set_defaults(func=cmd_realistic)

    encoders = sub.add_parser("encoders", help="a multilingual sentence encoder (USE-m, numpy) next to or "
                                               "instead of ours: xSID de/en, realistic routing, latency")
    encoders.add_argument("--config", action="append", help="Rasa config (repeatable; default: config.yml and "
                                                            "bench/configs/use_*.yml)")
    encoders.add_argument("--quick", action="store_true", help="xSID on 30 utterances only (smoke run)")
    encoders.add_argument("--output", help="results JSON (default: bench/results/encoders.json)")
    encoders.set_defaults(func=cmd_encoders)

    mail_corpus = sub.add_parser("mail-corpus", help="the email channel on 183 real mails: crashes, auto-mail "
                                                     "detection, human mails ignored, visible reply text")
    mail_corpus.add_argument("--corpus", help="folder with labels.jsonl (default: tests/mail/corpus)")
    mail_corpus.add_argument("--misses", action="store_true", help="list every mail that missed, by kind")
    mail_corpus.add_argument("--output", help="results JSON (default: bench/results/mail_corpus.json)")
    mail_corpus.set_defaults(func=cmd_mail_corpus)

    plot = sub.add_parser("plot", help="draw the CLINC150 plot from one or more `bench clinc` results")
    plot.add_argument("--input", action="append",
                      help="results JSON of `bench clinc` (repeatable; default: bench/results/clinc.json)")
    plot.add_argument("--out", default=str(PROJECT_ROOT / "docs" / "benchmarks_clinc.png"))
    plot.set_defaults(func=cmd_plot)
