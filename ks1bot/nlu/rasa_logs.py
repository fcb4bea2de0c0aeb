"""Rasa's own logging kept quiet in our command lines and tests."""
from __future__ import annotations

import logging


def quiet_rasa(level: int = logging.WARNING) -> None:
    """Keep Rasa's structlog output and third-party warnings at `level` and above."""
    import warnings

    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=UserWarning)
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(level)
    for name in ("rasa", "tensorflow", "absl", "sentence_transformers", "transformers", "urllib3", "matplotlib"):
        logging.getLogger(name).setLevel(max(level, logging.WARNING))
