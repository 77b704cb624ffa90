"""The locust users live in loadtest/ (imported as ``users``, as the locustfile does)."""

import sys
from pathlib import Path

LOADTEST = Path(__file__).resolve().parents[2] / "loadtest"
if str(LOADTEST) not in sys.path:
    sys.path.insert(0, str(LOADTEST))
