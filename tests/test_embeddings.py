"""The embedder gives the numbers sentence-transformers gives, without its per-call set-up."""
from __future__ import annotations

import numpy as np


def test_the_embedder_matches_sentence_transformers_encode(embedder):
    texts = ["Hallo", "Wie spiele ich das aktuelle KS1-Update auf unserem Server ein?",
             "Rechnung " * 80, "Der Drucker im Lager druckt keine Etiketten mehr"]
    reference = embedder._model.encode(texts, batch_size=64, normalize_embeddings=True,
                                       convert_to_numpy=True, show_progress_bar=False)
    embedder.clear_cache()
    ours = embedder.encode(texts)
    assert ours.shape == (4, embedder.dimension) and ours.dtype == np.float32
    assert np.allclose(ours, reference, atol=1e-6)
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
