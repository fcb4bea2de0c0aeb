"""Reading settings out of the Rasa config.yml (one place for the embedding model)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import yaml

from ks1bot.embeddings import DEFAULT_MODEL
from ks1bot.settings import PROJECT_ROOT

CONFIG = PROJECT_ROOT / "config.yml"


def embedding_model_name(config: Path = CONFIG) -> str:
    """The `model` of the SentenceEmbeddingFeaturizer in config.yml (the KB uses it too)."""
    data = yaml.safe_load(Path(config).read_text(encoding="utf-8")) or {}
    for component in data.get("pipeline") or []:
        if str(component.get("name", "")).endswith("SentenceEmbeddingFeaturizer"):
            model: Optional[str] = component.get("model")
            return model or DEFAULT_MODEL
    return DEFAULT_MODEL
