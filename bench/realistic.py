"""Routing on realistic messages (`ks1bot bench realistic`): per category, with wrong
exclusions listed, and the production-down signal on its own labelled sets.

The sets (bench/data/realistic/, each written by a different author, none trained on):
test.jsonl and final.jsonl (looked at while developing, see docs/benchmarks.md §6),
blind.jsonl (never looked at), tune.jsonl (thresholds are chosen on it with `ks1bot
calibrate`), plus bench/data/holdout.jsonl and ../shared/eval/dev.jsonl;
bench/data/production_down*.jsonl for the production-down signal. Prints Markdown;
`--quick` routes 20 messages per set.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from bench.common import ROOT, Progress

DATA = ROOT / "bench" / "data"
EVAL = ROOT.parent / "shared" / "eval"
SETS = (
    ("realistic test", DATA / "realistic" / "test.jsonl", None),
    ("realistic final", DATA / "realistic" / "final.jsonl", None),
    ("realistic blind", DATA / "realistic" / "blind.jsonl", None),
    ("realistic tune", DATA / "realistic" / "tune.jsonl", None),
    ("holdout", DATA / "holdout.jsonl", None),
    ("dev (shared/eval)", EVAL / "dev.jsonl", EVAL / "dev_expect.jsonl"),
)
PRODUCTION_DOWN_SETS = (
    ("production_down.jsonl (the patterns were written on it)", DATA / "production_down.jsonl"),
    ("production_down_blind.jsonl (measured blind once, then its misses were looked at)",
     DATA / "production_down_blind.jsonl"),
    ("production_down_final.jsonl (never looked at)", DATA / "production_down_final.jsonl"),
)


def _router(settings_path: Optional[Path] = None):
    """The Router as `ks1bot route` builds it, and the email channel's loop protection that
    `ks1bot route` puts in front of it."""
    from ks1bot.app import wiring
    from ks1bot.core.settings import load_settings

    settings = load_settings(settings_path or ROOT / "settings.yml")
    return wiring.build_router(settings, EVAL / "customers.csv", progress=lambda line: None), wiring.screening(settings)


def route_set(router, cases, screen=lambda message: message) -> List[Dict[str, Any]]:
    return [router.route(screen(case.message)).to_output() for case in cases]


def production_down_figures(path: Path) -> Optional[Dict[str, Any]]:
    """The signal on a labelled set, as the router sees the text (prepared like a message)."""
    if not path.exists():
        return None
    import datetime as dt

    from ks1bot.core.messages import InboundMessage
    from ks1bot.core.preparation import prepare
    from ks1bot.core.production_down import load, measure

    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    cases = []
    by_variety: Dict[str, List] = {}
    for row in rows:
        message = InboundMessage(id=row["id"], channel=row.get("channel", "chat"), text=row["text"],
                                 received_at=dt.datetime.now(dt.timezone.utc), sender="")
        pair = (prepare(message).text, bool(row["production_down"]))
        cases.append(pair)
        by_variety.setdefault(f"{row.get('variety', '?')}/{row.get('channel', '?')}", []).append(pair)
    detector = load()
    return {"all": measure(detector, cases),
            "by_variety_channel": {k: measure(detector, v) for k, v in sorted(by_variety.items())},
            "misses": [row["id"] for row, (text, truth) in zip(rows, cases) if detector.detect(text) != truth]}


def run(quick: bool = False, settings: Optional[Path] = None, sets: Sequence = SETS,
        progress: Optional[Progress] = None) -> Dict[str, Any]:
    from ks1bot.core.evaluation import by_category, figures, load_cases

    progress = progress or Progress("realistic")
    router, screen = _router(settings)
    progress("model loaded")
    results: Dict[str, Any] = {"date": time.strftime("%Y-%m-%d"), "sets": {}, "production_down": {}}
    for name, path, expect in sets:
        if not Path(path).exists():
            progress(f"{name}: {path} missing, skipped")
            continue
        cases = load_cases(Path(path), Path(expect) if expect else None)
        if quick:
            cases = cases[:20]
        started = time.perf_counter()
        outputs = route_set(router, cases, screen)
        seconds = time.perf_counter() - started
        total = figures(cases, outputs)
        results["sets"][name] = {
            "file": str(Path(path).relative_to(ROOT.parent)) if Path(path).is_relative_to(ROOT.parent) else str(path),
            "all": total.as_dict(),
            "by_category": {k: v.as_dict() for k, v in by_category(cases, outputs).items()},
            "by_language": {k: v.as_dict() for k, v in _by(cases, outputs, lambda c: c.expect.get("language")).items()},
            "by_channel": {k: v.as_dict() for k, v in _by(cases, outputs, lambda c: c.message.channel).items()},
            "wrong_exclusions": total.wrong,
            "misses": total.misses,
            "ms_per_message": round(1000 * seconds / max(len(cases), 1), 1),
        }
        progress(f"{name}: {len(cases)} messages, route accuracy {total.route_accuracy:.3f}, "
                 f"wrong exclusions {total.wrong_exclusions}")
    for name, path in PRODUCTION_DOWN_SETS:
        found = production_down_figures(path)
        if found is not None:
            results["production_down"][name] = found
    return results


def _by(cases, outputs, key):
    from ks1bot.core.evaluation import Figures

    groups: Dict[str, Figures] = {}
    for case, out in zip(cases, outputs):
        groups.setdefault(str(key(case)), Figures()).add(case, out)
    return dict(sorted(groups.items()))


def report(data: Dict[str, Any]) -> str:
    lines = [f"## Routing on realistic messages ({data['date']})", ""]
    lines.append("| set | n | route acc. | wrong excl. | excl. precision | excl. recall | topic acc. | priority | ms/msg |")
    lines.append("|---|---|---|---|---|---|---|---|---|")
    for name, s in data["sets"].items():
        a = s["all"]
        lines.append(f"| {name} | {a['n']} | {a['route_accuracy']:.3f} | {a['wrong_exclusions']} | "
                     f"{a['exclusion_precision']:.3f} | {a['exclusion_recall']:.3f} | {a['topic_accuracy']:.3f} | "
                     f"{a['priority']} | {s['ms_per_message']} |")
    for name, s in data["sets"].items():
        lines += ["", f"### {name}: by category", "",
                  "| category | n | route acc. | wrong excl. | topic acc. | priority |", "|---|---|---|---|---|---|"]
        for cat, a in list(s["by_category"].items()) + [("— by language —", None)] + list(s["by_language"].items()) \
                + [("— by channel —", None)] + list(s["by_channel"].items()):
            if a is None:
                lines.append(f"| {cat} | | | | | |")
                continue
            lines.append(f"| {cat} | {a['n']} | {a['route_accuracy']:.3f} | {a['wrong_exclusions']} | "
                         f"{a['topic_accuracy']:.3f} | {a['priority']} |")
        if s["wrong_exclusions"]:
            lines.append("")
            lines.append("Wrong exclusions: " + "; ".join(f"{i} (expected {'/'.join(r)}, got {t})"
                                                          for i, r, _, t in s["wrong_exclusions"]))
    if data["production_down"]:
        lines += ["", "### Production-down signal", "", "| set | n | recall | precision |", "|---|---|---|---|"]
        for name, found in data["production_down"].items():
            a = found["all"]
            lines.append(f"| {name} | {a['n']} | {a['recall']:.3f} | {a['precision']:.3f} |")
    return "\n".join(lines)
