"""Webhook tests: real receivers on loopback (tests/webhooks/receiver.py), injectable
resolvers standing in for DNS, no mocked HTTP."""

from __future__ import annotations

import sys
from pathlib import Path

# tests/ is not a package; make `tests.*` importable however pytest was started.
_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)
