"""Shared fixtures. The Rasa model is trained once per test session (and reused across
sessions while its inputs are unchanged: models are named by a fingerprint)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
EVAL_DIR = SHARED / "eval"


@pytest.fixture(scope="session")
def settings():
    from ks1bot.settings import load_settings

    return load_settings(ROOT / "settings.yml")


@pytest.fixture(scope="session")
def trained_model(settings):
    from ks1bot import logs
    from ks1bot.model_store import ensure_model

    logs.quiet_rasa()
    return ensure_model(settings.models_dir)


@pytest.fixture(scope="session")
def embedder():
    from ks1bot.rasa_config import load_configured_embedder

    return load_configured_embedder()


@pytest.fixture(scope="session")
def classifier(trained_model):
    from ks1bot.nlu import RasaClassifier

    return RasaClassifier(trained_model)


@pytest.fixture(scope="session")
def knowledge(settings, embedder):
    from ks1bot.knowledge import KnowledgeBase

    return KnowledgeBase.load(settings.knowledge_dir, embedder)


@pytest.fixture(scope="session")
def eval_customers():
    from ks1bot.customers import CustomerDirectory

    return CustomerDirectory.load(EVAL_DIR / "customers.csv")


@pytest.fixture(scope="session")
def router(settings, eval_customers, knowledge, classifier):
    from ks1bot.service import Router

    return Router(settings, eval_customers, knowledge, parser=classifier)
