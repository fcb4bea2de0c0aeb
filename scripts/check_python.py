"""Stop with one clear sentence unless this interpreter can run Rasa 3.6 (Python 3.10)."""
import sys

if sys.version_info[:2] != (3, 10):
    found = ".".join(str(part) for part in sys.version_info[:3])
    sys.stderr.write(
        f"KS1 bot needs Python 3.10 because Rasa 3.6 does not run on Python {found} "
        f"({sys.executable}); install it with `pyenv install 3.10.13` (the repository's "
        ".python-version selects it) or run make with PYTHON=/path/to/python3.10.\n"
    )
    sys.exit(1)
