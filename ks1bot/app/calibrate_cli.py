"""`ks1bot calibrate`: choose `thresholds.classify` and `thresholds.exclude` from measured
exclusion precision on labelled realistic messages, and `thresholds.knowledge` after them.

    ks1bot calibrate [--input FILE.jsonl …] [--customers FILE.csv] [--min-precision 0.99]

Routes every message once through the model (parses are cached), then again at every
threshold pair with the same routing code, and prints the curve and the chosen values.
It changes no file: put the printed values into settings.yml.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, List, Mapping

from ks1bot.core.settings import PROJECT_ROOT

DEFAULT_SETS = (PROJECT_ROOT / "bench" / "data" / "realistic" / "tune.jsonl",
                PROJECT_ROOT / "bench" / "data" / "holdout.jsonl")
CLASSIFY_VALUES = tuple(round(0.30 + 0.05 * i, 2) for i in range(7))     # 0.30 … 0.60
EXCLUDE_VALUES = tuple(round(0.30 + 0.05 * i, 2) for i in range(13))     # 0.30 … 0.90
DOUBT_VALUES = (0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 1.0)
KNOWLEDGE_VALUES = tuple(round(0.40 + 0.02 * i, 2) for i in range(16))   # 0.40 … 0.70
#: The knowledge threshold chosen is the highest whose route accuracy is within this of the best.
KNOWLEDGE_TOLERANCE = 0.005


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def cmd_calibrate(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from ks1bot.app import wiring
    from ks1bot.core.evaluation import choose, describe_sweep, figures, load_cases, sweep
    from ks1bot.core.settings import load_settings

    settings = load_settings(Path(args.settings) if args.settings else None)
    paths = [Path(p) for p in (args.input or DEFAULT_SETS)]
    cases = [case for path in paths for case in load_cases(path)]
    customers = Path(args.customers) if args.customers else PROJECT_ROOT.parent / "shared" / "eval" / "customers.csv"
    router = wiring.build_router(settings, customers)
    screen = wiring.screening(settings)
    _progress(f"routing {len(cases)} messages from {', '.join(p.name for p in paths)} once through the model …")
    base = settings.thresholds

    analyses = [router.analyse(screen(case.message)) for case in cases]

    def route_all(classify: float, exclude: float, doubt: float, knowledge: float = base.knowledge
                  ) -> List[Mapping[str, Any]]:
        router.settings = replace(settings, thresholds=replace(base, classify=classify, exclude=exclude,
                                                                in_scope_doubt=doubt, knowledge=knowledge))
        return [router.decide(analysis).to_output() for analysis in analyses]

    rows = sweep(route_all, cases, args.classify or CLASSIFY_VALUES, args.exclude or EXCLUDE_VALUES,
                 args.in_scope_doubt or DOUBT_VALUES, _progress)
    chosen = choose(rows, args.min_precision)
    print(describe_sweep(rows, chosen, args.min_precision))
    if chosen is None:
        print(f"No threshold pair reaches exclusion precision {args.min_precision}; keep the current values "
              f"and add training data for the excluded topics.")
        return 1
    print("\nknowledge  route_acc  (the other thresholds as chosen)")
    curve = []
    for value in KNOWLEDGE_VALUES:
        accuracy = figures(cases, route_all(chosen.classify, chosen.exclude, chosen.in_scope_doubt, value)).route_accuracy
        curve.append((value, accuracy))
        print(f"{value:9.2f}  {accuracy:9.3f}")
    # A wrong article costs more than a handoff, and these labels cannot tell a wrong
    # article from a right one: the highest threshold within KNOWLEDGE_TOLERANCE of the best.
    best_acc = max(a for _, a in curve)
    best_k = max(v for v, a in curve if a >= best_acc - KNOWLEDGE_TOLERANCE)
    current = figures(cases, route_all(base.classify, base.exclude, base.in_scope_doubt)).as_dict()
    print(f"\ncurrent settings  classify {base.classify}, exclude {base.exclude}, in_scope_doubt "
          f"{base.in_scope_doubt}, knowledge {base.knowledge}: {current}")
    best = figures(cases, route_all(chosen.classify, chosen.exclude, chosen.in_scope_doubt, best_k)).as_dict()
    print(f"chosen            classify {chosen.classify}, exclude {chosen.exclude}, in_scope_doubt "
          f"{chosen.in_scope_doubt}, knowledge {best_k}: {best}")
    print("Put the chosen values under `thresholds:` in settings.yml.")
    return 0


def register(sub) -> None:
    parser = sub.add_parser("calibrate", help="choose the routing thresholds from labelled realistic messages")
    parser.add_argument("--input", action="append",
                        help="labelled JSONL (repeatable; default: bench/data/realistic/tune.jsonl and "
                             "bench/data/holdout.jsonl)")
    parser.add_argument("--customers", help="customer directory (default: ../shared/eval/customers.csv)")
    parser.add_argument("--min-precision", type=float, default=0.99, help="exclusion precision to reach (0.99)")
    parser.add_argument("--classify", type=float, action="append", help="classify values to try (repeatable)")
    parser.add_argument("--exclude", type=float, action="append", help="exclude values to try (repeatable)")
    parser.add_argument("--in-scope-doubt", type=float, action="append",
                        help="in_scope_doubt values to try (repeatable)")
    parser.set_defaults(func=cmd_calibrate)
