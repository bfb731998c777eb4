"""A tuning trial that fails on the user's config ends the run with one line, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def recsys(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", COLUMNS="200")
    code = "from recsys_cli.cli import main; main()"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=300)


def test_failing_trial_prints_one_line_and_no_traceback(tmp_path: Path) -> None:
    common = ["data.scale=tiny", "tracking=none", f"paths.root={tmp_path}"]
    for stage in ("ingest", "split"):
        assert recsys(stage, *common, cwd=tmp_path).returncode == 0
    done = recsys("tune", "model=ease", "model.memory_budget_gb=0.000001", "tune.trials=3", *common, cwd=tmp_path)
    assert done.returncode == 1
    text = done.stdout + done.stderr
    assert "Traceback" not in text and "failed with" not in text  # Optuna's "Trial 0 failed with parameters ..."
    errors = [line for line in text.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    assert errors[0].startswith("error: tune: trial 0 with {'l2': 500.0") and "memory_budget_gb=1e-06" in errors[0]
