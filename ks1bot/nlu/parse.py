"""The trained Rasa model as a classifier: text → topic, confidence and ranking."""
from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path
from typing import Any, Dict, List, Mapping, Sequence

from ks1bot.core.routing import Classification
from ks1bot.core.topics import TOPICS

log = logging.getLogger(__name__)


def classification_from_parse(parse: Mapping[str, Any]) -> Classification:
    """Turn Rasa's parse result (also `tracker.latest_message`) into a Classification.

    Intents are the topics of SPEC §3 (a fine-grained intent `topic+detail` maps onto
    its topic); Rasa's own fallback intent is skipped in favour of the best real one.
    """
    ranking = []
    for entry in parse.get("intent_ranking") or []:
        name = str(entry.get("name") or "")
        topic = name.split("+", 1)[0]
        if topic not in TOPICS:
            continue
        confidence = float(entry.get("confidence") or 0.0)
        if any(t == topic for t, _ in ranking):
            continue
        ranking.append((topic, confidence))
    if not ranking:
        intent = parse.get("intent") or {}
        topic = str(intent.get("name") or "").split("+", 1)[0]
        if topic in TOPICS:
            ranking.append((topic, float(intent.get("confidence") or 0.0)))
    if not ranking:
        return Classification(topic="out_of_domain", confidence=0.0, ranking=())
    ranking.sort(key=lambda pair: pair[1], reverse=True)
    topic, confidence = ranking[0]
    return Classification(topic=topic, confidence=confidence, ranking=tuple(ranking[:5]))


class RasaClassifier:
    """Loads a trained Rasa model once and classifies texts with its NLU pipeline."""

    def __init__(self, model_path: Path) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        from rasa.core.agent import Agent

        self.model_path = Path(model_path)
        self._loop = asyncio.new_event_loop()
        self._agent = Agent.load(str(self.model_path))

    def parse(self, text: str) -> Dict[str, Any]:
        return self._loop.run_until_complete(self._agent.parse_message(text))

    def parse_many(self, texts: Sequence[str]) -> List[Dict[str, Any]]:
        """The parses of several texts in one run of the NLU graph (a message and its
        requests: the embedding models run once on the batch instead of once per text)."""
        from rasa.core.channels import UserMessage
        from rasa.engine.constants import PLACEHOLDER_MESSAGE, PLACEHOLDER_TRACKER
        from rasa.shared.core.trackers import DialogueStateTracker

        processor = self._agent.processor
        target = processor.model_metadata.nlu_target
        tracker = DialogueStateTracker.from_events("parse", [])
        messages = processor.graph_runner.run(
            inputs={PLACEHOLDER_MESSAGE: [UserMessage(text) for text in texts], PLACEHOLDER_TRACKER: tracker},
            targets=[target])[target]
        parses = []
        for message in messages:
            parse: Dict[str, Any] = {"text": "", "intent": {"name": None, "confidence": 0.0}, "entities": []}
            parse.update(message.as_dict(only_output_properties=True))
            parses.append(parse)
        return parses

    def classify(self, text: str) -> Classification:
        return classification_from_parse(self.parse(text))

    def close(self) -> None:
        self._loop.close()
