"""Shared pieces of the public benchmarks (`ks1bot bench clinc|xsid|server`).

Pipelines are trained in-process with `rasa.model_training.train_nlu` on data written
as Rasa NLU JSON (no Markdown entity syntax to trip over), and test sets are parsed in
batches through the model's own graph, so the numbers are those of the trained Rasa
model, not of a re-implementation.
"""
from __future__ import annotations

import contextlib
import json
import os
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Rasa's training cache would store every featurised training set (hundreds of MB for
# CLINC150) and make a second run look faster than it is; benchmarks train from scratch.
os.environ.setdefault("RASA_MAX_CACHE_SIZE", "0")

import yaml  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"
CONFIGS = ROOT / "bench" / "configs"
PROJECT_CONFIG = ROOT / "config.yml"
FALLBACK_INTENT = "nlu_fallback"
#: Rasa reads "a/b" as retrieval intent a with response key b; such names are escaped.
_SLASH = "__"


class BenchError(Exception):
    """A problem the user can fix (missing data, bad option); one sentence."""


def default_rasa_config() -> Path:
    """rasa/engine/recipes/config_files/default_config.yml of the installed Rasa."""
    import rasa

    return Path(rasa.__file__).parent / "engine" / "recipes" / "config_files" / "default_config.yml"


# -- progress ----------------------------------------------------------------------
class Progress:
    """One line per phase on stderr, with the time since the run started."""

    def __init__(self, name: str, stream=None) -> None:
        self.name = name
        self.started = time.monotonic()
        self.stream = stream or sys.stderr

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def __call__(self, line: str) -> None:
        print(f"[{self.name} {self.elapsed:7.1f} s] {line}", file=self.stream, flush=True)


# -- configs -------------------------------------------------------------------------
def nlu_config(source: Path, language: str, drop: Sequence[str] = (),
               overrides: Optional[Dict[str, Dict[str, Any]]] = None) -> Dict[str, Any]:
    """The NLU part of a Rasa config file (no policies), for `language`.

    `drop` removes components whose name ends with one of the given names;
    `overrides` maps such a name to settings merged into that component.
    """
    data = yaml.safe_load(Path(source).read_text(encoding="utf-8")) or {}
    pipeline = []
    for component in data.get("pipeline") or []:
        name = str(component.get("name", ""))
        if any(name.endswith(d) for d in drop):
            continue
        component = dict(component)
        for key, settings in (overrides or {}).items():
            if name.endswith(key):
                component.update(settings)
        pipeline.append(component)
    if not pipeline:
        raise BenchError(f"{source} has no NLU pipeline; pass a Rasa config file with a `pipeline:` list.")
    return {"recipe": data.get("recipe", "default.v1"), "language": language, "pipeline": pipeline}


def has_component(config: Dict[str, Any], name: str) -> bool:
    return any(str(c.get("name", "")).endswith(name) for c in config["pipeline"])


def write_config(config: Dict[str, Any], path: Path) -> Path:
    path.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


# -- data --------------------------------------------------------------------------
Example = Tuple[str, str]


def escape_intent(name: str) -> str:
    return name.replace("/", _SLASH)


def unescape_intent(name: str) -> str:
    return name.replace(_SLASH, "/")


def write_nlu_json(examples: Iterable[Example], path: Path) -> Path:
    """Rasa NLU JSON training data (texts taken literally: no entity markup)."""
    common = [{"text": text, "intent": escape_intent(intent), "entities": []} for text, intent in examples]
    path.write_text(json.dumps({"rasa_nlu_data": {"common_examples": common}}, ensure_ascii=False),
                    encoding="utf-8")
    return path


def stratified_sample(examples: Sequence[Example], fraction: float, seed: int = 13,
                      limit: Optional[int] = None) -> List[Example]:
    """`fraction` of each intent's examples (at least one), optionally at most `limit` intents."""
    import random

    by_intent: Dict[str, List[str]] = {}
    for text, intent in examples:
        by_intent.setdefault(intent, []).append(text)
    rng = random.Random(seed)
    chosen = sorted(by_intent)
    if limit is not None:
        chosen = chosen[:limit]
    result: List[Example] = []
    for intent in chosen:
        texts = list(by_intent[intent])
        rng.shuffle(texts)
        keep = max(1, round(len(texts) * fraction))
        result += [(t, intent) for t in texts[:keep]]
    return result


# -- training and parsing ----------------------------------------------------------
def quiet() -> None:
    from ks1bot.nlu.rasa_logs import quiet_rasa

    quiet_rasa()


def train_nlu(config: Dict[str, Any], examples: Sequence[Example], workdir: Path, name: str) -> Tuple[Path, float]:
    """Train `config` on `examples`; returns the model archive and the training seconds."""
    from rasa.model_training import train_nlu as rasa_train_nlu

    workdir.mkdir(parents=True, exist_ok=True)
    config_path = write_config(config, workdir / f"{name}.config.yml")
    data_path = write_nlu_json(examples, workdir / f"{name}.nlu.json")
    started = time.monotonic()
    with contextlib.redirect_stdout(sys.stderr):  # Rasa prints "model saved at"; stdout is for the tables
        model = rasa_train_nlu(str(config_path), str(data_path), str(workdir), fixed_model_name=name)
    seconds = time.monotonic() - started
    if not model:
        raise BenchError(f"training {name} failed; see the Rasa log above.")
    return Path(model), seconds


@dataclass(frozen=True)
class Prediction:
    """The top intent of a parse, and the best intent that is not Rasa's fallback."""

    intent: str
    confidence: float
    best_real: str
    best_real_confidence: float


def prediction_from_parse(parse: Dict[str, Any]) -> Prediction:
    intent = parse.get("intent") or {}
    name = unescape_intent(str(intent.get("name") or ""))
    confidence = float(intent.get("confidence") or 0.0)
    best, best_conf = name, confidence
    if name == FALLBACK_INTENT or not name:
        best, best_conf = "", 0.0
        for entry in parse.get("intent_ranking") or []:
            candidate = unescape_intent(str(entry.get("name") or ""))
            if candidate and candidate != FALLBACK_INTENT:
                best, best_conf = candidate, float(entry.get("confidence") or 0.0)
                break
    return Prediction(name, confidence, best, best_conf)


class BatchParser:
    """A trained Rasa NLU model that parses many texts per graph run."""

    def __init__(self, model: Path) -> None:
        from rasa.core.agent import Agent

        self.agent = Agent.load(str(model))

    def parse(self, texts: Sequence[str], batch_size: int = 256) -> List[Dict[str, Any]]:
        from rasa.core.channels import UserMessage
        from rasa.engine.constants import PLACEHOLDER_MESSAGE, PLACEHOLDER_TRACKER
        from rasa.shared.core.trackers import DialogueStateTracker

        processor = self.agent.processor
        target = processor.model_metadata.nlu_target
        tracker = DialogueStateTracker.from_events("bench", [])
        results: List[Dict[str, Any]] = []
        for start in range(0, len(texts), batch_size):
            batch = [UserMessage(text) for text in texts[start:start + batch_size]]
            out = processor.graph_runner.run(
                inputs={PLACEHOLDER_MESSAGE: batch, PLACEHOLDER_TRACKER: tracker}, targets=[target]
            )[target]
            for message in out:
                parse = {"text": "", "intent": {"name": None, "confidence": 0.0}, "entities": []}
                parse.update(message.as_dict(only_output_properties=True))
                results.append(parse)
        return results

    def predict(self, texts: Sequence[str]) -> Tuple[List[Prediction], float]:
        """Predictions for `texts` and the milliseconds per text."""
        started = time.monotonic()
        parses = self.parse(texts)
        ms = (time.monotonic() - started) * 1000 / max(1, len(texts))
        return [prediction_from_parse(p) for p in parses], ms


# -- report helpers ----------------------------------------------------------------
def machine() -> Dict[str, Any]:
    """What the numbers were measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    try:
        import rasa

        rasa_version = rasa.__version__
    except Exception:  # pragma: no cover - rasa is a dependency
        rasa_version = "?"
    return {
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": memory,
        "python": platform.python_version(),
        "rasa": rasa_version,
        # Other work on the same cores slows every number here; the 1-minute load average
        # when the run ended says how busy the machine was (2.0 = both cores in use).
        "load_avg_1min": round(os.getloadavg()[0], 2),
    }


def machine_line(info: Dict[str, Any]) -> str:
    load = info.get("load_avg_1min")
    return (f"Measured {info['date']} on {info['cpu']}, {info['cores']} cores, {info['memory_gb']} GB RAM, "
            f"Python {info['python']}, Rasa {info['rasa']}"
            + (f"; load average at the end {load}" if load is not None else "") + ".")


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        lines.append("| " + " | ".join("–" if v is None else str(v) for v in row) + " |")
    return "\n".join(lines)


def pct(value: Optional[float]) -> Optional[str]:
    return None if value is None else f"{100 * value:.1f}"


def write_json(data: Any, path: Optional[Path]) -> None:
    if path is None:
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
