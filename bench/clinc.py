"""`ks1bot bench clinc`: CLINC150 (data_full) in-scope accuracy and out-of-scope recall.

Schemes (Larson et al., EMNLP 2019):
- oos-train: the 100 `oos_train` queries are a 151st class; a query is out-of-scope
  when that class wins (for Rasa's default pipeline also when its FallbackClassifier
  answers `nlu_fallback`, as the pipeline ships).
- oos-threshold: trained on the 150 in-scope intents only; a query is out-of-scope
  when the top confidence is below a threshold tuned on the validation split.
- oos-train+threshold (ours, not in the paper): the oos-train model plus a confidence
  threshold tuned on the validation split.

Threshold tuning on the validation split (never on test), two objectives:
- `sum`: maximise in-scope accuracy + OOS recall (both count equally);
- `keep` (default): the highest OOS recall whose validation in-scope accuracy stays
  within `--keep-inscope` points (default 0.5) of the same model without a threshold.
"""
from __future__ import annotations

import csv
import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from bench import common
from bench.common import BenchError, Example, Prediction, Progress

DATA = common.SHARED_DATA / "clinc150" / "data_full.json"
PAPER = common.SHARED_DATA / "clinc150" / "larson2019_table2_table3.csv"
OOS = "oos"
SCHEMES = ("oos-train", "oos-threshold")
#: The goal of the benchmark issue (in-scope accuracy, OOS recall).
TARGET = (0.95, 0.60)


@dataclass(frozen=True)
class Clinc:
    train: List[Example]
    oos_train: List[Example]
    val: List[Example]
    test: List[Example]


def load(path: Path = DATA, quick: bool = False, limit: Optional[int] = None, seed: int = 13) -> Clinc:
    """The data_full splits, val and test with their oos queries appended.

    `quick`: a stratified 20 % of the training data (oos_train included). `limit`: only
    the first `limit` intents (alphabetically), every split, with the oos queries of
    val and test cut in the same proportion (at least 10) — for smoke runs.
    """
    if not Path(path).is_file():
        raise BenchError(f"CLINC150 data not found at {path}; it lives in ../shared/data/clinc150/.")
    raw = json.loads(Path(path).read_text(encoding="utf-8"))
    rows = {name: [(str(t), str(i)) for t, i in raw[name]] for name in
            ("train", "oos_train", "val", "oos_val", "test", "oos_test")}
    train, oos_train = rows["train"], rows["oos_train"]
    val, test = rows["val"], rows["test"]
    oos_val, oos_test = rows["oos_val"], rows["oos_test"]
    if limit is not None:
        intents = sorted({i for _, i in train})[: max(1, limit)]
        keep = set(intents)
        train = [e for e in train if e[1] in keep]
        val = [e for e in val if e[1] in keep]
        test = [e for e in test if e[1] in keep]
        share = len(intents) / 150
        oos_val = oos_val[: max(10, round(len(oos_val) * share))]
        oos_test = oos_test[: max(10, round(len(oos_test) * share))]
        oos_train = oos_train[: max(10, round(len(oos_train) * share))]
    if quick:
        train = common.stratified_sample(train, 0.2, seed)
        oos_train = common.stratified_sample(oos_train, 0.2, seed)
    return Clinc(train, oos_train, val + oos_val, test + oos_test)


# -- metrics -----------------------------------------------------------------------
def labels(predictions: Sequence[Prediction], threshold: Optional[float], use_fallback: bool) -> List[str]:
    """Predicted labels, `oos` for out-of-scope.

    threshold None: the pipeline's own answer (Rasa's fallback counts as oos when
    `use_fallback`); else the best real intent, oos below the threshold.
    """
    result = []
    for p in predictions:
        if threshold is None:
            label = p.intent if (p.intent != common.FALLBACK_INTENT or not use_fallback) else OOS
            if label == common.FALLBACK_INTENT:
                label = p.best_real
        else:
            label = OOS if p.best_real_confidence < threshold else p.best_real
        result.append(label)
    return result


def score(gold: Sequence[str], predicted: Sequence[str]) -> Dict[str, float]:
    """In-scope accuracy (an in-scope query called oos is wrong) and OOS recall."""
    gold_a, pred_a = np.asarray(gold), np.asarray(predicted)
    inscope = gold_a != OOS
    return {
        "inscope_acc": float((pred_a[inscope] == gold_a[inscope]).mean()) if inscope.any() else float("nan"),
        "oos_recall": float((pred_a[~inscope] == OOS).mean()) if (~inscope).any() else float("nan"),
        "n_inscope": int(inscope.sum()),
        "n_oos": int((~inscope).sum()),
    }


def tune_threshold(gold: Sequence[str], predictions: Sequence[Prediction], objective: str,
                   keep_inscope: float) -> float:
    """The confidence threshold chosen on the validation split (see the module doc)."""
    confidences = np.array([p.best_real_confidence for p in predictions])
    candidates = np.unique(np.concatenate([[0.0], confidences]))
    scored = []
    for t in candidates:
        s = score(gold, labels(predictions, float(t), use_fallback=False))
        scored.append((float(t), s["inscope_acc"], s["oos_recall"]))
    if objective == "sum":
        return max(scored, key=lambda r: (r[1] + r[2], -r[0]))[0]
    if objective != "keep":
        raise BenchError(f"unknown threshold objective {objective!r}; use sum or keep.")
    base = scored[0][1]  # threshold 0: the model's own in-scope accuracy
    allowed = [r for r in scored if r[1] >= base - keep_inscope / 100 - 1e-12]
    return max(allowed, key=lambda r: (r[2], -r[0]))[0]


def sweep(gold: Sequence[str], predictions: Sequence[Prediction], steps: int = 41) -> List[Tuple[float, float, float]]:
    """(threshold, in-scope accuracy, OOS recall) over thresholds 0 … 1 — the trade-off curve."""
    curve = []
    for t in np.linspace(0.0, 1.0, steps):
        s = score(gold, labels(predictions, float(t), use_fallback=False))
        curve.append((round(float(t), 3), s["inscope_acc"], s["oos_recall"]))
    return curve


# -- systems -----------------------------------------------------------------------
@dataclass
class System:
    key: str
    label: str
    config: Dict[str, Any]
    #: Rasa's default pipeline ends in a FallbackClassifier (nlu_fallback = oos).
    fallback: bool = False
    notes: List[str] = field(default_factory=list)


def systems(configs: Sequence[Path], default: bool, default_epochs: int) -> List[System]:
    result = []
    for path in configs:
        path = Path(path)
        if not path.is_file():
            raise BenchError(f"config file {path} not found; pass a Rasa config with --config.")
        label = "ours (config.yml)" if path.resolve() == common.PROJECT_CONFIG.resolve() else f"ours ({path.name})"
        result.append(System(path.stem, label, common.nlu_config(path, "en")))
    if default:
        overrides = {"DIETClassifier": {"epochs": default_epochs}, "ResponseSelector": {"epochs": default_epochs}}
        config = common.nlu_config(common.default_rasa_config(), "en", overrides=overrides)
        notes = [] if default_epochs == 100 else [f"DIET {default_epochs} epochs instead of 100 (time budget)"]
        result.append(System("rasa-default", f"Rasa default ({default_epochs} ep.)", config, fallback=True,
                             notes=notes))
    return result


def enlarge_embedding_cache(config: Dict[str, Any], size: int) -> None:
    """Both schemes embed the same texts: keep every embedding of the run in memory."""
    from ks1bot.nlu.embeddings import DEFAULT_MODEL, load_embedder

    for component in config["pipeline"]:
        if str(component.get("name", "")).endswith("SentenceEmbeddingFeaturizer"):
            embedder = load_embedder(component.get("model") or DEFAULT_MODEL,
                                     int(component.get("max_tokens", 128)), bool(component.get("quantize", True)))
            embedder._cache_size = max(embedder._cache_size, size)  # noqa: SLF001 - a benchmark-only setting


def evaluate(system: System, scheme: str, data: Clinc, workdir: Path, progress: Progress,
             objective: str, keep_inscope: float) -> Dict[str, Any]:
    examples = data.train + (data.oos_train if scheme == "oos-train" else [])
    progress(f"{system.label} · {scheme}: training on {len(examples)} examples …")
    model, train_s = common.train_nlu(system.config, examples, workdir, f"{system.key}-{scheme}")
    progress(f"{system.label} · {scheme}: trained in {train_s:.0f} s; parsing {len(data.val)} val "
             f"and {len(data.test)} test queries …")
    parser = common.BatchParser(model)
    val_pred, _ = parser.predict([t for t, _ in data.val])
    test_pred, ms = parser.predict([t for t, _ in data.test])
    val_gold, test_gold = [i for _, i in data.val], [i for _, i in data.test]
    rows = []
    if scheme == "oos-train":
        rows.append({"scheme": "oos-train", "threshold": None,
                     **score(test_gold, labels(test_pred, None, system.fallback))})
        t = tune_threshold(val_gold, val_pred, objective, keep_inscope)
        rows.append({"scheme": "oos-train+threshold", "threshold": t,
                     **score(test_gold, labels(test_pred, t, False))})
    else:
        t = tune_threshold(val_gold, val_pred, objective, keep_inscope)
        rows.append({"scheme": "oos-threshold", "threshold": t, **score(test_gold, labels(test_pred, t, False))})
    for row in rows:
        progress(f"{system.label} · {row['scheme']}: in-scope {100 * row['inscope_acc']:.1f} %, "
                 f"OOS recall {100 * row['oos_recall']:.1f} %"
                 + (f" (threshold {row['threshold']:.3f})" if row["threshold"] is not None else ""))
    result = {"system": system.key, "label": system.label, "notes": system.notes, "train_s": round(train_s, 1),
              "ms_per_query": round(ms, 2), "n_train": len(examples), "rows": rows,
              "curve": sweep(test_gold, test_pred)}
    parser.agent = None
    return result


def paper_rows(path: Path = PAPER) -> List[Dict[str, Any]]:
    """The paper's data_full rows (Table 2): scheme, classifier, in-scope acc., OOS recall."""
    rows = []
    with open(path, encoding="utf-8") as handle:
        lines = [line for line in handle if not line.startswith("#")]
    for row in csv.DictReader(lines):
        if row["scheme"] in SCHEMES and row.get("inscope_acc_full"):
            rows.append({"scheme": row["scheme"], "classifier": row["classifier"],
                         "inscope_acc": float(row["inscope_acc_full"]) / 100,
                         "oos_recall": float(row["oos_recall_full"]) / 100})
    return rows


def run(configs: Sequence[Path], default: bool = True, default_epochs: int = 8, quick: bool = False,
        limit: Optional[int] = None, schemes: Sequence[str] = SCHEMES, objective: str = "keep",
        keep_inscope: float = 0.5, progress: Optional[Progress] = None) -> Dict[str, Any]:
    progress = progress or Progress("bench clinc")
    common.quiet()
    data = load(quick=quick, limit=limit)
    progress(f"CLINC150 data_full: {len(data.train)} + {len(data.oos_train)} oos training, "
             f"{len(data.val)} validation, {len(data.test)} test queries"
             + (" (quick: stratified 20 % of the training data)" if quick else ""))
    chosen = systems(configs, default, default_epochs)
    results = []
    with tempfile.TemporaryDirectory(prefix="ks1bench-clinc-") as tmp:
        for system in chosen:
            enlarge_embedding_cache(system.config, 4 * (len(data.train) + len(data.val) + len(data.test)))
            for scheme in schemes:
                results.append(evaluate(system, scheme, data, Path(tmp), progress, objective, keep_inscope))
    progress("done")
    return {
        "benchmark": "clinc150",
        "machine": common.machine(),
        "options": {"configs": [str(c) for c in configs], "default": default, "default_epochs": default_epochs,
                    "quick": quick, "limit": limit, "schemes": list(schemes), "objective": objective,
                    "keep_inscope": keep_inscope},
        "data": {"train": len(data.train), "oos_train": len(data.oos_train), "val": len(data.val),
                 "test": len(data.test)},
        "elapsed_s": round(progress.elapsed, 1),
        "results": results,
        "paper": paper_rows(),
        "target": {"inscope_acc": TARGET[0], "oos_recall": TARGET[1]},
    }


# -- report --------------------------------------------------------------------------
def meets(row: Dict[str, Any]) -> str:
    return "yes" if row["inscope_acc"] >= TARGET[0] and row["oos_recall"] >= TARGET[1] else "no"


def report(data: Dict[str, Any]) -> str:
    """The Markdown tables of a run (measured rows, then the paper's)."""
    measured = []
    for result in data["results"]:
        for row in result["rows"]:
            measured.append([
                result["label"], row["scheme"], common.pct(row["inscope_acc"]), common.pct(row["oos_recall"]),
                "–" if row["threshold"] is None else f"{row['threshold']:.3f}", f"{result['train_s']:.0f}",
                f"{result['ms_per_query']:.1f}", meets(row),
            ])
    published = [[f"paper: {p['classifier']}", p["scheme"], common.pct(p["inscope_acc"]), common.pct(p["oos_recall"]),
                  "–", "–", "–", meets(p)] for p in data["paper"]]
    header = ["system", "scheme", "in-scope acc. %", "OOS recall %", "threshold", "train s", "ms/query",
              f"target ≥{TARGET[0] * 100:.0f}/≥{TARGET[1] * 100:.0f}"]
    notes = sorted({n for r in data["results"] for n in r["notes"]})
    o = data["options"]
    text = [
        common.machine_line(data["machine"]),
        f"CLINC150 data_full, test split ({data['data']['test']} queries); "
        f"{data['data']['train']} + {data['data']['oos_train']} oos training queries"
        + (" (quick)" if o["quick"] else "") + f"; run took {data['elapsed_s'] / 60:.1f} min.",
        f"Thresholds tuned on the validation split ({data['data']['val']} queries), objective `{o['objective']}`"
        + (f" (≤ {o['keep_inscope']} pt in-scope loss)" if o["objective"] == "keep" else "") + ".",
        "",
        common.markdown_table(header, measured + published),
    ]
    if notes:
        text += ["", "Notes: " + "; ".join(notes) + "."]
    return "\n".join(text)
