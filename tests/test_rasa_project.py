"""The Rasa project itself: data validation and the training data rules of the house."""
from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import yaml

from conftest import ROOT
from ks1bot.core.topics import TOPICS

RASA = str(Path(sys.executable).with_name("rasa"))


def examples_by_topic():
    counts = {}
    for path in sorted((ROOT / "data" / "nlu").glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        for block in data["nlu"]:
            lines = [l[2:].strip() for l in block["examples"].splitlines() if l.strip().startswith("- ")]
            counts.setdefault(block["intent"], []).extend(lines)
    return counts


def test_rasa_data_validate():
    proc = subprocess.run(
        [RASA, "data", "validate", "--domain", "bot/domain.yml", "--data", "data/nlu", "data/rules",
         "--config", "config.yml"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-3000:]
    # The only warnings allowed: external-event intents have (and must have) no NLU examples.
    warnings = [line for line in output.splitlines() if "UserWarning" in line]
    unexpected = [w for w in warnings if not ("'EXTERNAL_" in w and "not found in the NLU training data" in w)]
    assert unexpected == [], unexpected
    assert "No story structure conflicts found" in output


def test_every_topic_has_its_own_file_and_at_least_40_examples():
    counts = examples_by_topic()
    assert set(counts) == set(TOPICS)
    for topic in TOPICS:
        assert (ROOT / "data" / "nlu" / f"{topic}.yml").is_file()
        assert len(counts[topic]) >= 40, topic


def test_training_data_is_bilingual_and_has_phone_transcripts():
    from ks1bot.core.language import detect_language

    for topic, lines in examples_by_topic().items():
        languages = Counter(detect_language(line) for line in lines)
        assert languages["de"] >= 20 and languages["en"] >= 15, (topic, languages)
        transcripts = [l for l in lines if l == l.lower() and not any(c in l for c in ".,?!")]
        assert len(transcripts) >= 5, topic


def test_no_training_example_is_copied_from_the_eval_set():
    import json

    from conftest import EVAL_DIR
    from ks1bot.core.text import classification_text

    eval_texts = {classification_text(json.loads(l)["text"]).lower() for l in open(EVAL_DIR / "dev.jsonl")}
    for topic, lines in examples_by_topic().items():
        for line in lines:
            assert classification_text(line).lower() not in eval_texts, (topic, line)
