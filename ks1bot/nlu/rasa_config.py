"""Reading settings out of the Rasa config.yml (one place for the embedding model)."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Optional

import yaml

from ks1bot.core.settings import PROJECT_ROOT
from ks1bot.nlu.embeddings import DEFAULT_MODEL

#: The Rasa configuration (NLU pipeline and policies); the model is trained from it.
CONFIG = PROJECT_ROOT / "config.yml"


def embedding_settings(config: Path = CONFIG) -> Dict[str, Any]:
    """`model`, `max_tokens` and `quantize` of the SentenceEmbeddingFeaturizer in config.yml:
    the knowledge base embeds with exactly the same settings."""
    data = yaml.safe_load(Path(config).read_text(encoding="utf-8")) or {}
    for component in data.get("pipeline") or []:
        if str(component.get("name", "")).endswith("SentenceEmbeddingFeaturizer"):
            model: Optional[str] = component.get("model")
            return {
                "name_or_path": model or DEFAULT_MODEL,
                "max_tokens": int(component.get("max_tokens", 128)),
                "quantize": bool(component.get("quantize", True)),
            }
    return {"name_or_path": DEFAULT_MODEL, "max_tokens": 128, "quantize": True}


def load_configured_embedder(config: Path = CONFIG):
    """The embedder config.yml describes (shared with the Rasa featurizer in one process)."""
    from ks1bot.nlu.embeddings import load_embedder

    return load_embedder(**embedding_settings(config))
