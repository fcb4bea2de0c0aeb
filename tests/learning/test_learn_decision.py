"""The keep-or-refuse decision of `ks1bot learn apply`, with training and measuring
injected: a model that is worse on either set is refused and the merged examples are
taken out again; one that is not worse is kept."""
from __future__ import annotations

from pathlib import Path

import pytest

from ks1bot.app.learn_cli import LearnError, SetFigures, apply_review, read_review, verdict, write_review

EXAMPLE = {"correction": 1, "review": "accept", "text": "KS1 stürzt beim Buchen ab", "topic": "bug_report",
           "route": "handoff"}


def figures(realistic, dev, wrong=0):
    return [SetFigures("realistic test set", 100, realistic, wrong), SetFigures("dev set", 36, dev, 0)]


@pytest.mark.parametrize("after, worse", [
    (figures(0.90, 0.80), []),
    (figures(0.91, 0.80), []),
    (figures(0.89, 0.80), ["realistic test set: route accuracy 0.900 → 0.890"]),
    (figures(0.95, 0.79), ["dev set: route accuracy 0.800 → 0.790"]),
    (figures(0.95, 0.85, wrong=1), ["realistic test set: wrong exclusions 0 → 1"]),
])
def test_worse_on_either_set_is_refused(after, worse):
    assert verdict(figures(0.90, 0.80), after) == worse


def _run(tmp_path, after):
    nlu = tmp_path / "nlu"
    nlu.mkdir()
    models = tmp_path / "models"
    current = tmp_path / "ks1-old.tar.gz"
    current.write_bytes(b"old")
    measured = iter([figures(0.90, 0.80), after])

    def train(folder: Path) -> Path:
        assert "KS1 stürzt beim Buchen ab" in (nlu / "learned" / "bug_report.yml").read_text(encoding="utf-8")
        model = folder / "ks1-new.tar.gz"
        model.write_bytes(b"new")
        return model

    outcome = apply_review([EXAMPLE], nlu_dir=nlu, models_dir=models, current_model=current, train=train,
                           evaluate=lambda model: next(measured), progress=lambda line: None)
    return outcome, nlu, models


def test_a_worse_model_and_its_examples_are_not_kept(tmp_path):
    outcome, nlu, models = _run(tmp_path, figures(0.85, 0.80))
    assert not outcome.kept and outcome.reasons
    assert not (nlu / "learned" / "bug_report.yml").exists()
    assert not (models / "ks1-new.tar.gz").exists()


def test_a_model_that_is_not_worse_is_kept_with_its_examples(tmp_path):
    outcome, nlu, models = _run(tmp_path, figures(0.90, 0.81))
    assert outcome.kept and (models / "ks1-new.tar.gz").read_bytes() == b"new"
    learned = (nlu / "learned" / "bug_report.yml").read_text(encoding="utf-8")
    assert "intent: bug_report" in learned and "- KS1 stürzt beim Buchen ab" in learned


def test_the_review_file_round_trips_and_bad_files_say_what_to_fix(tmp_path):
    path = tmp_path / "review.yml"
    write_review(path, [EXAMPLE])
    assert read_review(path)[0]["text"] == EXAMPLE["text"]
    path.write_text("examples:\n- text: x\n  topic: os\n  review: maybe\n", encoding="utf-8")
    with pytest.raises(LearnError, match="accept, drop or pending"):
        read_review(path)
