"""Run a script under numba's CUDA simulator in a child process (numba reads
``NUMBA_ENABLE_CUDASIM`` when it is imported, so the test process itself cannot switch)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_simulated(script: str, timeout: int = 600) -> dict:
    """Run ``script`` (``tests`` on its path) with ``NUMBA_ENABLE_CUDASIM=1``; its last stdout line, a JSON object."""
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "1", "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", "import sys; sys.path.insert(0, 'tests')\n" + script], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])
