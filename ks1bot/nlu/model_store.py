"""Trained Rasa models: named by a fingerprint of their training inputs, trained when missing.

A model is current when its name carries the fingerprint of config.yml, the domain and
the training data, so a fresh clone, an edited example or a changed pipeline each lead to
exactly one training run, and the knowledge base (not part of the model) never does.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import sys
import time
from pathlib import Path
from typing import Callable, Iterator, List, Optional, Sequence

from ks1bot.core.settings import PROJECT_ROOT
from ks1bot.nlu.rasa_config import CONFIG

DOMAIN = PROJECT_ROOT / "bot" / "domain.yml"
TRAINING_DIRS = (PROJECT_ROOT / "data" / "nlu", PROJECT_ROOT / "data" / "rules")
#: Code whose behaviour is baked into the model's features (the components config.yml
#: names, and the text normalisation they share).
COMPONENT_FILES = (
    PROJECT_ROOT / "ks1bot" / "nlu" / "featurizer.py",
    PROJECT_ROOT / "ks1bot" / "nlu" / "use_featurizer.py",
    PROJECT_ROOT / "ks1bot" / "nlu" / "cleaner.py",
    PROJECT_ROOT / "ks1bot" / "nlu" / "classifier.py",
    PROJECT_ROOT / "ks1bot" / "core" / "text.py",
)


class TrainingError(Exception):
    """Training failed; the message says why."""


def training_inputs(config: Path = CONFIG, training_dirs: Optional[Sequence[Path]] = None) -> List[Path]:
    files = [config, DOMAIN, *COMPONENT_FILES]
    for directory in training_dirs or TRAINING_DIRS:
        files += sorted(p for p in directory.rglob("*.yml") if p.is_file())
    return files


def fingerprint(config: Path = CONFIG, training_dirs: Optional[Sequence[Path]] = None) -> str:
    digest = hashlib.sha256()
    for path in training_inputs(config, training_dirs):
        digest.update(str(path.relative_to(PROJECT_ROOT) if path.is_relative_to(PROJECT_ROOT) else path).encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()[:12]


def model_name(config: Path = CONFIG, training_dirs: Optional[Sequence[Path]] = None) -> str:
    return f"ks1-{fingerprint(config, training_dirs)}"


def current_model(models_dir: Path, config: Path = CONFIG,
                  training_dirs: Optional[Sequence[Path]] = None) -> Optional[Path]:
    """The trained model for the current inputs, or None when it must be trained."""
    path = Path(models_dir) / f"{model_name(config, training_dirs)}.tar.gz"
    return path if path.is_file() else None


@contextlib.contextmanager
def _training_lock(models_dir: Path) -> Iterator[None]:
    models_dir.mkdir(parents=True, exist_ok=True)
    with open(models_dir / ".train.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def train(
    models_dir: Path,
    config: Path = CONFIG,
    progress: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True),
    training_dirs: Optional[Sequence[Path]] = None,
) -> Path:
    """Train the Rasa model (NLU and dialogue rules) into models_dir; returns its path.
    `training_dirs`: other training data than data/nlu and data/rules (`ks1bot learn`'s
    tests train on a small subset)."""
    training_dirs = tuple(Path(d) for d in (training_dirs or TRAINING_DIRS))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    models_dir = Path(models_dir)
    name = model_name(config, training_dirs)
    with _training_lock(models_dir):
        existing = current_model(models_dir, config, training_dirs)
        if existing is not None:
            progress(f"Model {existing.name} is already trained for these inputs.")
            return existing
        examples = _count_examples(training_dirs[0])
        progress(
            f"Training the Rasa model {name} from {examples} examples "
            f"({config.name}, {DOMAIN.relative_to(PROJECT_ROOT)}, {', '.join(_shown(d) for d in training_dirs)}); "
            "this takes a few minutes on 2 cores …"
        )
        started = time.monotonic()
        from rasa.model_training import train as rasa_train

        result = rasa_train(
            domain=str(DOMAIN),
            config=str(config),
            training_files=[str(d) for d in training_dirs],
            output=str(models_dir),
            fixed_model_name=name,
            force_training=True,
        )
        model = getattr(result, "model", None)
        if getattr(result, "code", 1) != 0 or not model:
            raise TrainingError(f"Rasa training failed (exit code {getattr(result, 'code', '?')}); see the log above.")
        for old in models_dir.glob("ks1-*.tar.gz"):
            if old.name != f"{name}.tar.gz":
                old.unlink(missing_ok=True)
        progress(f"Trained {Path(model).name} in {time.monotonic() - started:.0f} s.")
        return Path(model)


def ensure_model(models_dir: Path, config: Path = CONFIG, progress: Callable[[str], None] = None) -> Path:
    """The current model, trained first when it is missing or its inputs changed."""
    found = current_model(models_dir, config)
    if found is not None:
        return found
    kwargs = {"progress": progress} if progress else {}
    return train(models_dir, config, **kwargs)


def _shown(directory: Path) -> str:
    return str(directory.relative_to(PROJECT_ROOT)) if directory.is_relative_to(PROJECT_ROOT) else str(directory)


def _count_examples(nlu_dir: Path = PROJECT_ROOT / "data" / "nlu") -> int:
    count = 0
    for path in sorted(Path(nlu_dir).rglob("*.yml")):
        count += sum(1 for line in path.read_text(encoding="utf-8").splitlines() if line.strip().startswith("- "))
    return count
