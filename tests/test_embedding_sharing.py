"""The Rasa NLU's sentence vector travels in the parse result, and the action server's
knowledge-base search reuses it instead of running the model a second time."""
from __future__ import annotations

import numpy as np

from ks1bot.nlu.embeddings import PARSE_KEY, pack_vector, unpack_vector
from ks1bot.core.text import classification_text

TEXT = "Wie spiele ich das aktuelle KS1-Update ein?"


def test_a_packed_vector_comes_back_exactly():
    vector = np.random.default_rng(7).normal(size=384).astype(np.float32)
    packed = pack_vector(vector, "model-a|max_tokens=128|quantize=1")
    assert len(packed["f32"]) < 2100  # small enough for every tracker event
    assert np.array_equal(unpack_vector(packed, "model-a|max_tokens=128|quantize=1"), vector)


def test_a_vector_from_another_model_or_a_broken_one_is_not_used():
    packed = pack_vector(np.ones(384, np.float32), "model-a")
    assert unpack_vector(packed, "model-b") is None
    assert unpack_vector({"model": "model-a", "f32": "not base64!"}, "model-a") is None
    assert unpack_vector({"model": "model-a", "f32": "AAA="}, "model-a") is None  # 2 bytes: not float32
    assert unpack_vector(None, "model-a") is None
    assert unpack_vector(packed, "") is None


def test_the_parse_result_carries_the_vector_the_model_makes(classifier, embedder):
    parse = classifier.parse(classification_text(TEXT))
    vector = unpack_vector(parse[PARSE_KEY], embedder.signature)
    assert vector is not None, parse[PARSE_KEY]["model"]
    embedder.clear_cache()
    assert np.allclose(vector, embedder.encode([classification_text(TEXT)])[0], atol=1e-6)


def test_the_knowledge_base_searches_with_the_shared_vector(knowledge, embedder):
    text = classification_text("Bitte schicken Sie uns die Installationsanleitung für den neuen Server")
    embedder.clear_cache()
    own = knowledge.search(text, "update_question", "de")
    # a vector that differs from what the model would say: if the search used the model,
    # the result could not change
    other = embedder.encode([classification_text("Welche gesetzlichen Änderungen bringt das Update?")])[0]
    assert knowledge.remember_query(text, pack_vector(other, embedder.signature))
    shared = knowledge.search(text, "update_question", "de")
    assert shared.score != own.score
    embedder.clear_cache()
    assert not knowledge.remember_query(text, pack_vector(other, "some-other-model"))
    assert knowledge.search(text, "update_question", "de").score == own.score
