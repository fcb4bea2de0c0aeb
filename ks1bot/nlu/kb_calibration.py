"""Calibrating the knowledge-base similarity threshold on a labelled set.

The set (data/knowledge/calibration.yml) holds messages with the article that answers
them and messages no article answers. For every candidate threshold we count a correct
answer (right article, score ≥ t), a wrong answer (wrong article or a negative, score ≥ t)
and a miss; the calibrated threshold maximises the F-beta score (beta 0.5 by default:
precision counts twice as much as recall, because a wrong answer is worse than a handoff).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, List, Optional, Sequence, Tuple

import yaml


@dataclass(frozen=True)
class CalibrationCase:
    text: str
    article: Optional[str]  # None: no article answers it


@dataclass(frozen=True)
class ThresholdRow:
    threshold: float
    precision: float
    recall: float
    wrong_answers: int

    def f_beta(self, beta: float) -> float:
        p, r = self.precision, self.recall
        return (1 + beta**2) * p * r / (beta**2 * p + r) if p + r else 0.0


@dataclass(frozen=True)
class CalibrationReport:
    rows: Tuple[ThresholdRow, ...]
    chosen: Optional[ThresholdRow]
    beta: float
    positives: int
    negatives: int

    def describe(self) -> str:
        lines = [f"{self.positives} positives, {self.negatives} negatives; threshold chosen by F{self.beta:g}",
                 f"threshold  precision  recall  wrong_answers  F{self.beta:g}"]
        for row in self.rows:
            mark = "  <- chosen" if self.chosen and row.threshold == self.chosen.threshold else ""
            lines.append(f"{row.threshold:9.2f}  {row.precision:9.3f}  {row.recall:6.3f}  {row.wrong_answers:13d}"
                         f"  {row.f_beta(self.beta):5.3f}{mark}")
        if self.chosen:
            lines.append(f"Set thresholds.knowledge: {self.chosen.threshold:.2f} in settings.yml.")
        return "\n".join(lines)


def load_calibration_set(path: Path) -> List[CalibrationCase]:
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    cases = [CalibrationCase(str(p["text"]), str(p["article"])) for p in data.get("positives") or []]
    cases += [CalibrationCase(str(n), None) for n in data.get("negatives") or []]
    return cases


def best_article(knowledge, text: str, topic: Optional[str] = None) -> Tuple[Optional[str], float]:
    scores = knowledge.scores(text, topic)
    if not scores:
        return None, 0.0
    article = max(scores, key=scores.get)
    return article, scores[article]


def threshold_table(results: Sequence[Tuple[Optional[str], Optional[str], float]],
                    thresholds: Sequence[float]) -> List[ThresholdRow]:
    """results: (expected article or None, best article, its score) per case."""
    positives = sum(1 for expected, _, _ in results if expected is not None)
    rows = []
    for t in thresholds:
        right = sum(1 for e, got, s in results if e is not None and got == e and s >= t)
        wrong = sum(1 for e, got, s in results if s >= t and (e is None or got != e))
        answered = right + wrong
        rows.append(ThresholdRow(
            threshold=round(t, 2),
            precision=right / answered if answered else 1.0,
            recall=right / positives if positives else 0.0,
            wrong_answers=wrong,
        ))
    return rows


def calibrate(knowledge, cases: Sequence[CalibrationCase], beta: float = 0.5,
              topic_of: Optional[Callable[[str], str]] = None) -> CalibrationReport:
    """`topic_of` classifies a message as routing does (the knowledge base is then searched
    within that topic only, as in production); without it every article competes."""
    results = []
    for case in cases:
        topic = topic_of(case.text) if topic_of else None
        got, score = best_article(knowledge, case.text, topic)
        results.append((case.article, got, score))
    thresholds = [round(0.30 + 0.02 * i, 2) for i in range(31)]
    rows = threshold_table(results, thresholds)
    chosen = max(rows, key=lambda r: (round(r.f_beta(beta), 6), r.threshold)) if rows else None
    return CalibrationReport(
        rows=tuple(rows),
        chosen=chosen,
        beta=beta,
        positives=sum(1 for c in cases if c.article),
        negatives=sum(1 for c in cases if c.article is None),
    )
