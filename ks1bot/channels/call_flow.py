"""Phone calls: what to do with a transcript the speech recogniser was unsure about."""
from __future__ import annotations

from typing import Optional

#: Below this ASR confidence the caller is asked to repeat (once), then called back.
ASR_MIN_CONFIDENCE = 0.6
#: How often a caller is asked to repeat before a person calls back.
MAX_REPEATS = 1


def call_step(transcript: str, asr_confidence: Optional[float], repeats_so_far: int) -> str:
    """'route' (understood), 'repeat' (ask again) or 'handoff' (still not understood)."""
    unclear = not transcript.strip() or (asr_confidence is not None and asr_confidence < ASR_MIN_CONFIDENCE)
    if not unclear:
        return "route"
    return "repeat" if repeats_so_far < MAX_REPEATS else "handoff"
