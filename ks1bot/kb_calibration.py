"""Calibrating the knowledge-base similarity threshold on a labelled set.

The set (data/knowledge/calibration.yml) holds messages with the article that answers
them and messages no article answers. For every candidate threshold we count a correct
answer (right article, score ≥ t), a wrong answer (wrong article or a negative, score ≥ t)
and a miss; the calibrated threshold is the lowest one whose precision reaches the target.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

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


@dataclass(frozen=True)
class CalibrationReport:
    rows: Tuple[ThresholdRow, ...]
    chosen: Optional[ThresholdRow]
    target_precision: float
    positives: int
    negatives: int

    def describe(self) -> str:
        lines = [f"{self.positives} positives, {self.negatives} negatives; target precision {self.target_precision:.2f}",
                 "threshold  precision  recall  wrong_answers"]
        for row in self.rows:
            mark = "  <- chosen" if self.chosen and row.threshold == self.chosen.threshold else ""
            lines.append(f"{row.threshold:9.2f}  {row.precision:9.3f}  {row.recall:6.3f}  {row.wrong_answers:13d}{mark}")
        if self.chosen:
            lines.append(f"Set thresholds.knowledge: {self.chosen.threshold:.2f} in settings.yml.")
        else:
            lines.append("No threshold reaches the target precision; add questions to the articles.")
        return "\n".join(lines)


def load_calibration_set(path: Path) -> List[CalibrationCase]:
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    cases = [CalibrationCase(str(p["text"]), str(p["article"])) for p in data.get("positives") or []]
    cases += [CalibrationCase(str(n), None) for n in data.get("negatives") or []]
    return cases


def best_article(knowledge, text: str) -> Tuple[Optional[str], float]:
    scores = knowledge.scores(text)
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


def calibrate(knowledge, cases: Sequence[CalibrationCase], target_precision: float = 0.95) -> CalibrationReport:
    results = []
    for case in cases:
        got, score = best_article(knowledge, case.text)
        results.append((case.article, got, score))
    thresholds = [round(0.30 + 0.02 * i, 2) for i in range(31)]
    rows = threshold_table(results, thresholds)
    chosen = next((r for r in rows if r.precision >= target_precision), None)
    return CalibrationReport(
        rows=tuple(rows),
        chosen=chosen,
        target_precision=target_precision,
        positives=sum(1 for c in cases if c.article),
        negatives=sum(1 for c in cases if c.article is None),
    )
