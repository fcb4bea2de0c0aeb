"""`ks1bot bench xsid`: German intent accuracy on xSID (train: de.valid, test: de.test).

Four pipelines, so the sentence-embedding component is measured on its own:
ours (config.yml) with and without SentenceEmbeddingFeaturizer, and Rasa's default
pipeline without and with it (inserted before DIETClassifier). The same utterances'
English originals (`text_en`) are run as a reference: the default embedding model,
all-MiniLM-L6-v2, is trained on English, so the gap between the two languages is
what the model is (not) worth for German.
"""
from __future__ import annotations

import csv
import tempfile
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from bench import common
from bench.common import BenchError, Example, Progress

DATA = common.SHARED_DATA / "xsid_de"
EMBEDDING = "SentenceEmbeddingFeaturizer"


def load(split: str, language: str, limit: Optional[int] = None) -> List[Example]:
    """(text, intent) pairs of de.<split>.tsv, German text or its English original."""
    path = DATA / f"de.{split}.tsv"
    if not path.is_file():
        raise BenchError(f"xSID data not found at {path}; it lives in ../shared/data/xsid_de/.")
    with open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    column = "text" if language == "de" else "text_en"
    examples = [(r[column].strip(), r["intent"].strip()) for r in rows if r.get(column) and r.get("intent")]
    return examples[:limit] if limit else examples


def embedding_component(config: Dict[str, Any]) -> Dict[str, Any]:
    for component in config["pipeline"]:
        if str(component.get("name", "")).endswith(EMBEDDING):
            return dict(component)
    return {"name": "ks1bot.nlu.featurizer.SentenceEmbeddingFeaturizer"}


def pipelines(config: Path, language: str, default: bool, default_epochs: int) -> List[Dict[str, Any]]:
    ours = common.nlu_config(config, language)
    embedding = embedding_component(ours)
    result = [
        {"key": "ours", "label": f"ours ({Path(config).name})", "embedding": common.has_component(ours, EMBEDDING),
         "config": ours},
        {"key": "ours-no-emb", "label": f"ours ({Path(config).name}) without embeddings", "embedding": False,
         "config": common.nlu_config(config, language, drop=[EMBEDDING])},
    ]
    if default:
        overrides = {"DIETClassifier": {"epochs": default_epochs}, "ResponseSelector": {"epochs": default_epochs}}
        base = common.nlu_config(common.default_rasa_config(), language, overrides=overrides)
        with_emb = dict(base, pipeline=[])
        for component in base["pipeline"]:
            if str(component.get("name")) == "DIETClassifier":
                with_emb["pipeline"].append(embedding)
            with_emb["pipeline"].append(component)
        result += [
            {"key": "rasa-default", "label": "Rasa default", "embedding": False, "config": base},
            {"key": "rasa-default-emb", "label": "Rasa default + embeddings", "embedding": True, "config": with_emb},
        ]
    return result


def run(config: Path = common.PROJECT_CONFIG, default: bool = True, default_epochs: int = 100,
        languages: Sequence[str] = ("de", "en"), limit: Optional[int] = None,
        progress: Optional[Progress] = None) -> Dict[str, Any]:
    progress = progress or Progress("bench xsid")
    common.quiet()
    if not Path(config).is_file():
        raise BenchError(f"config file {config} not found; pass a Rasa config with --config.")
    results = []
    sizes = {}
    with tempfile.TemporaryDirectory(prefix="ks1bench-xsid-") as tmp:
        for language in languages:
            train = load("valid", language)
            test = load("test", language, limit)
            if limit:
                train = common.stratified_sample(train, 0.2)
            sizes[language] = {"train": len(train), "test": len(test)}
            gold = [i for _, i in test]
            for pipeline in pipelines(Path(config), language, default, default_epochs):
                name = f"{pipeline['key']}-{language}"
                progress(f"{pipeline['label']} · {language}: training on {len(train)} utterances …")
                model, train_s = common.train_nlu(pipeline["config"], train, Path(tmp), name)
                predictions, ms = common.BatchParser(model).predict([t for t, _ in test])
                right = sum(p.best_real == g for p, g in zip(predictions, gold))
                fallback = sum(p.intent == common.FALLBACK_INTENT for p in predictions)
                accuracy = right / len(test)
                progress(f"{pipeline['label']} · {language}: accuracy {100 * accuracy:.1f} % "
                         f"(trained in {train_s:.0f} s)")
                results.append({"system": pipeline["key"], "label": pipeline["label"], "language": language,
                                "embedding": pipeline["embedding"], "accuracy": accuracy, "correct": right,
                                "n": len(test), "fallback": fallback, "train_s": round(train_s, 1),
                                "ms_per_query": round(ms, 2)})
    progress("done")
    return {
        "benchmark": "xsid",
        "machine": common.machine(),
        "options": {"config": str(config), "default": default, "default_epochs": default_epochs,
                    "languages": list(languages), "limit": limit},
        "data": sizes,
        "elapsed_s": round(progress.elapsed, 1),
        "results": results,
    }


def report(data: Dict[str, Any]) -> str:
    by = {(r["system"], r["language"]): r for r in data["results"]}
    languages = data["options"]["languages"]
    header = ["pipeline", "embeddings"] + [f"accuracy {lang} %" for lang in languages] + \
             [f"train s ({languages[0]})", "ms/utterance"]
    rows = []
    seen = []
    for r in data["results"]:
        if r["system"] not in seen:
            seen.append(r["system"])
    for system in seen:
        first = next(by[(system, lang)] for lang in languages if (system, lang) in by)
        cells = [first["label"], "yes" if first["embedding"] else "no"]
        for lang in languages:
            r = by.get((system, lang))
            cells.append(None if r is None else f"{100 * r['accuracy']:.1f}"
                         + (f" ({r['fallback']} fallback)" if r["fallback"] else ""))
        cells += [f"{first['train_s']:.0f}", f"{first['ms_per_query']:.1f}"]
        rows.append(cells)
    sizes = data["data"]
    lang0 = languages[0]
    text = [
        common.machine_line(data["machine"]),
        f"xSID v0.7: trained on de.valid ({sizes[lang0]['train']} utterances), tested on de.test "
        f"({sizes[lang0]['test']}); `en` = the same utterances' English originals. Accuracy of the top "
        f"intent (Rasa's nlu_fallback skipped; the count in brackets says how often the default pipeline's "
        f"FallbackClassifier would have answered instead). Run took {data['elapsed_s'] / 60:.1f} min.",
        "", common.markdown_table(header, rows),
    ]
    gains = []
    for lang in languages:
        for with_e, without in (("ours", "ours-no-emb"), ("rasa-default-emb", "rasa-default")):
            if (with_e, lang) in by and (without, lang) in by:
                gain = by[(with_e, lang)]["accuracy"] - by[(without, lang)]["accuracy"]
                gains.append(f"{by[(without, lang)]['label']} {lang}: {100 * gain:+.1f} pt")
    if gains:
        text += ["", "What the embedding component adds: " + "; ".join(gains) + "."]
    return "\n".join(text)
