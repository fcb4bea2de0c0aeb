"""Routing benchmark (a script, not a test): quality and speed of `ks1bot route`.

    .venv/bin/python bench/route_bench.py [--skip-default] [--default-epochs N] [--repeat N] [--quick]

1. Route accuracy on ../shared/eval/dev.jsonl, bench/data/holdout.jsonl and the realistic
   test set bench/data/realistic/test.jsonl (full emails, dialects, calls, several
   requests) with our pipeline (config.yml) and with Rasa's default pipeline trained on
   the same data — side by side.
2. Latency of routing one message after warm-up (what `ks1bot route` does per input
   line), p50/p95 over all three sets repeated N times, and the process's peak RSS.

Prints a Markdown table; `--quick` skips the default pipeline and uses 2 repeats (the
CI smoke run).
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# one thread per process, as `ks1bot serve` runs the servers (docs/benchmarks.md §4)
os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
EVAL = ROOT.parent / "shared" / "eval"
HOLDOUT = ROOT / "bench" / "data" / "holdout.jsonl"
REALISTIC = ROOT / "bench" / "data" / "realistic" / "test.jsonl"


def load_cases(path: Path, expect_path: Path = None):
    """(message, expectation) pairs; emails checked by the email channel's loop protection
    first, as `ks1bot route` does."""
    from ks1bot.app import wiring
    from ks1bot.core.evaluation import load_cases as load
    from ks1bot.core.settings import load_settings

    screen = wiring.screening(load_settings(ROOT / "settings.yml"))
    return [(screen(case.message), case.expect) for case in load(path, expect_path)]


def score(router, cases):
    right = wrong_exclusions = topic_right = 0
    for message, expect in cases:
        out = router.route(message).to_output()
        right += out["route"] in expect["routes"]
        topic_right += out["topic"] in expect["topics"]
        wrong_exclusions += out["route"] == "exclude" and "exclude" not in expect["routes"]
    n = len(cases)
    return {"route_accuracy": right / n, "topic_accuracy": topic_right / n, "wrong_exclusions": wrong_exclusions, "n": n}


def latency(router, cases, repeat: int):
    """Per-message time; the embedding cache is emptied before each message, so a
    repeated message costs what a new one would."""
    from ks1bot.nlu.rasa_config import load_configured_embedder

    embedder = load_configured_embedder()
    for message, _ in cases[:5]:  # warm-up
        router.route(message)
    times, cpu = [], []
    for _ in range(repeat):
        for message, _ in cases:
            embedder.clear_cache()
            start, start_cpu = time.perf_counter(), time.process_time()
            router.route(message)
            times.append((time.perf_counter() - start) * 1000)
            cpu.append((time.process_time() - start_cpu) * 1000)
    times.sort()
    cpu.sort()
    return {
        "p50_ms": statistics.median(times),
        "p95_ms": times[int(0.95 * (len(times) - 1))],
        "max_ms": times[-1],
        # CPU time of the routing process per message: what the wall time is on a quiet
        # machine with one thread (OMP_NUM_THREADS=1), and what other load cannot inflate
        "cpu_p50_ms": statistics.median(cpu),
        "cpu_p95_ms": cpu[int(0.95 * (len(cpu) - 1))],
        "n": len(times),
    }


def router_for(model_path: Path):
    from ks1bot.app import wiring
    from ks1bot.core.settings import load_settings

    return wiring.build_router(load_settings(ROOT / "settings.yml"), EVAL / "customers.csv", model=model_path)


def train_default(out_dir: Path, epochs: int = 100) -> Path:
    """Rasa's default pipeline (rasa/engine/recipes/config_files/default_config.yml), NLU only,
    with `epochs` for DIET and the ResponseSelector (100 as shipped)."""
    import yaml
    from rasa.model_training import train_nlu

    from bench.common import default_rasa_config

    default = default_rasa_config()
    config = yaml.safe_load(default.read_text(encoding="utf-8"))
    for component in config["pipeline"]:
        if component["name"] in ("DIETClassifier", "ResponseSelector"):
            component["epochs"] = epochs
    path = out_dir / "default_config.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    print(f"training Rasa's default pipeline ({default.name}, {epochs} epochs) — this takes a while …",
          file=sys.stderr, flush=True)
    start = time.time()
    model = train_nlu(str(path), str(ROOT / "data" / "nlu"), str(out_dir), fixed_model_name="rasa-default")
    print(f"trained in {time.time() - start:.0f} s", file=sys.stderr, flush=True)
    return Path(model)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--skip-default", action="store_true")
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--default-epochs", type=int, default=100, help="DIET epochs of Rasa's default (100)")
    parser.add_argument("--quick", action="store_true", help="smoke run: no default pipeline, 2 repeats")
    args = parser.parse_args()
    if args.quick:
        args.skip_default, args.repeat = True, 2

    from ks1bot.core.settings import load_settings
    from ks1bot.nlu.model_store import ensure_model
    from ks1bot.nlu.rasa_logs import quiet_rasa

    quiet_rasa()
    settings = load_settings(ROOT / "settings.yml")
    dev = load_cases(EVAL / "dev.jsonl", EVAL / "dev_expect.jsonl")
    holdout = load_cases(HOLDOUT) if HOLDOUT.exists() else []
    realistic = load_cases(REALISTIC) if REALISTIC.exists() else []

    ours = router_for(ensure_model(settings.models_dir))
    rows = [("ours (config.yml)", score(ours, dev), score(ours, holdout) if holdout else None,
             score(ours, realistic) if realistic else None)]
    timing = latency(ours, dev + holdout + realistic, args.repeat)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    if not args.skip_default:
        with tempfile.TemporaryDirectory() as tmp:
            default = router_for(train_default(Path(tmp), args.default_epochs))
            rows.append((f"Rasa default pipeline ({args.default_epochs} epochs)", score(default, dev),
                         score(default, holdout) if holdout else None, score(default, realistic) if realistic else None))

    print(f"## Routing benchmark ({time.strftime('%Y-%m-%d')}, {os.cpu_count()} CPUs)\n")
    print("| pipeline | set | route acc. | wrong excl. | topic acc. |")
    print("|---|---|---|---|---|")
    for name, *sets in rows:
        for label, figures in zip(("dev (shared/eval)", "holdout", "realistic test"), sets):
            if figures:
                print(f"| {name} | {label} ({figures['n']}) | {figures['route_accuracy']:.3f} | "
                      f"{figures['wrong_exclusions']} | {figures['topic_accuracy']:.3f} |")
    print(f"\n`ks1bot route` per message after warm-up ({timing['n']} messages): "
          f"p50 {timing['p50_ms']:.1f} ms, p95 {timing['p95_ms']:.1f} ms, max {timing['max_ms']:.1f} ms "
          f"(CPU time p50 {timing['cpu_p50_ms']:.1f} ms, p95 {timing['cpu_p95_ms']:.1f} ms; load average "
          f"{os.getloadavg()[0]:.1f}); "
          f"peak RSS {peak:.0f} MB (targets: p95 ≤ 60 ms, peak RSS ≤ 2,500 MB).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
