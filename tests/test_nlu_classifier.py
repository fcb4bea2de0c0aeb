"""The TopicClassifier's block weights (config.yml `block_weights`)."""
from ks1bot.nlu.classifier import block_weight

EMBEDDING = "run_ks1bot.nlu.featurizer.SentenceEmbeddingFeaturizer4"
CHARS = "run_CountVectorsFeaturizer3"


def test_a_component_name_weights_its_blocks():
    weights = {"SentenceEmbeddingFeaturizer": 2.0}
    assert block_weight(weights, EMBEDDING) == 2.0
    assert block_weight(weights, CHARS) == 1.0


def test_an_exact_origin_wins_over_a_name():
    weights = {"CountVectorsFeaturizer": 0.5, CHARS: 1.5}
    assert block_weight(weights, CHARS) == 1.5
    assert block_weight(weights, "run_CountVectorsFeaturizer2") == 0.5


def test_no_weights_mean_equal_blocks():
    assert block_weight({}, EMBEDDING) == 1.0
