"""tests/ is not a package: make `tests.*` importable whichever directory pytest starts in.

pytest loads this conftest before the ones below it and before any test module, whether it
runs the whole suite, one directory (`pytest tests/api`) or one file, from the repository
root or from inside tests/; so this is the one place that needs to say it.
"""

from __future__ import annotations

import sys
from pathlib import Path

_ROOT = str(Path(__file__).resolve().parents[1])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)
