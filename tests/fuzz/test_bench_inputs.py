"""The malformed-input fuzzer (bench/bench_inputs.py), a few hundred inputs:
every one is accepted or rejected with one bounded line, none escapes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_a_few_hundred_malformed_inputs_are_all_handled() -> None:
    r = subprocess.run([sys.executable, str(ROOT / "bench" / "bench_inputs.py"), "--inputs", "300",
                        "--jobs", "1", "--chunk", "300", "--seed", "7", "--json"],
                       capture_output=True, text=True, timeout=600,
                       env=dict(os.environ, PYTHONPATH=str(ROOT)))
    out = json.loads(r.stdout)
    assert out["inputs"] == 300
    assert set(out["counts"]) <= {"accepted", "rejected"}, out["examples"]
    assert out["counts"].get("rejected", 0) > 100 and r.returncode == 0
