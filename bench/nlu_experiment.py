"""Compare NLU pipelines: held-out topic accuracy on our training data and training time.

usage: python bench/nlu_experiment.py CONFIG.yml [CONFIG.yml …] [--holdout 0.2]
Prints one line per config. A development tool, not part of CI.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def load_examples():
    examples = []
    for path in sorted((ROOT / "data" / "nlu").glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        for block in data["nlu"]:
            for line in block["examples"].splitlines():
                line = line.strip()
                if line.startswith("- "):
                    examples.append((line[2:].strip(), block["intent"]))
    return examples


def split(examples, holdout, seed=7):
    by_topic = defaultdict(list)
    for text, topic in examples:
        by_topic[topic].append(text)
    rng = random.Random(seed)
    train, test = [], []
    for topic, texts in by_topic.items():
        rng.shuffle(texts)
        k = max(1, int(len(texts) * holdout))
        test += [(t, topic) for t in texts[:k]]
        train += [(t, topic) for t in texts[k:]]
    return train, test


def write_nlu(examples, path):
    by_topic = defaultdict(list)
    for text, topic in examples:
        by_topic[topic].append(text)
    blocks = [{"intent": t, "examples": "".join(f"- {x}\n" for x in xs)} for t, xs in by_topic.items()]
    path.write_text(yaml.safe_dump({"version": "3.1", "nlu": blocks}, allow_unicode=True, sort_keys=False))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("configs", nargs="+")
    parser.add_argument("--holdout", type=float, default=0.2)
    args = parser.parse_args()
    from rasa.model_training import train_nlu
    from ks1bot.nlu.parse import RasaClassifier

    train, test = split(load_examples(), args.holdout)
    with tempfile.TemporaryDirectory() as tmp:
        nlu_file = Path(tmp) / "nlu.yml"
        write_nlu(train, nlu_file)
        for config in args.configs:
            start = time.time()
            model = train_nlu(config, str(nlu_file), str(Path(tmp) / "out"), fixed_model_name=Path(config).stem)
            seconds = time.time() - start
            clf = RasaClassifier(Path(model))
            hits = 0
            confusion = defaultdict(int)
            t0 = time.time()
            for text, topic in test:
                got = clf.classify(text).topic
                hits += got == topic
                if got != topic:
                    confusion[(topic, got)] += 1
            per = (time.time() - t0) / len(test) * 1000
            worst = sorted(confusion.items(), key=lambda kv: -kv[1])[:8]
            print(json.dumps({"config": config, "train_s": round(seconds, 1), "holdout_acc": round(hits / len(test), 3),
                              "n_test": len(test), "ms_per_msg": round(per, 1),
                              "top_confusions": [f"{a}->{b}:{n}" for (a, b), n in worst]}), flush=True)


if __name__ == "__main__":
    main()
