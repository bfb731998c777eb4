"""SIGKILL `recsys train`, `recsys export` (20 moments each), `recsys batch-recommend` and `recsys update` (8
each): the artifact is always whole.

After every kill the artifact path holds a complete version that verifies
against its manifest (the old one or the new one, never half, never missing),
and a rerun succeeds and leaves no temporaries behind. The moments are spread
over a normal run's duration (one per 1/20th, at a random point inside it), so
kills land in the imports, the fit, the writes and the swap alike.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from recsys_cli.bundle import read_bundle
from recsys_cli.manifest import read_manifest

pytestmark = pytest.mark.slow
KILLS = 20
BASE = ["experiment=tiny", "tracking=none", "tune.trials=0", "eval.bootstrap=0", "model.num_threads=1"]


def _recsys(root: Path, command: str) -> list[str]:
    extra = [f"update.events={root / 'day.parquet'}"] if command == "update" else []
    return [sys.executable, "-m", "recsys_cli.cli", command, *BASE, f"paths.root={root}", *extra]


def _env() -> dict[str, str]:
    return {**os.environ, "OPENBLAS_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("kill")
    done = subprocess.run(_recsys(root, "run"), env=_env(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    _new_day(root)
    return root


def _new_day(root: Path) -> None:
    """A day of new events for `recsys update`: the test window's last 300 replayed a day later, plus a newcomer."""
    import polars as pl

    test = pl.read_parquet(root / "data/processed/test.parquet").sort("timestamp").tail(300)
    day = test.select("user_id", "item_id", "event", pl.col("timestamp") + pl.duration(days=1))
    newcomer = pl.DataFrame({"user_id": ["kill-newcomer"] * 2, "item_id": ["kill-new-product", test["item_id"][0]],
                             "event": ["purchase", "view"], "timestamp": [day["timestamp"].max()] * 2})
    pl.concat([day, newcomer.cast({"timestamp": day.schema["timestamp"]})]).write_parquet(root / "day.parquet")


def _duration(args: list[str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(args, env=_env(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    return time.perf_counter() - started


def _kill_at(args: list[str], delay: float) -> int | None:
    """Start ``args``, SIGKILL it after ``delay`` seconds; its exit code if it finished first."""
    proc = subprocess.Popen(args, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        return proc.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        return None


def _moments(duration: float, seed: int, kills: int = KILLS) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return duration * (np.arange(kills) + rng.random(kills)) / kills


def _verify_model_dir(path: Path) -> str:
    manifest = read_manifest(path, verify=True)  # every file present, listed and unaltered
    from recsys_cli.models import load_model

    load_model(path / "model"), load_model(path / "fallback")
    return manifest["files"]["model/arrays.npz"]


def _verify_bundle(path: Path) -> str:
    return read_bundle(path).version


def _verify_recs(path: Path) -> str:
    """data/recs: the lists, the config and recs_info.json, all of one run (rows and bundle agree)."""
    import json

    from recsys_cli.stages.batch_recommend import read_recommendations

    info = json.loads((path / "recs_info.json").read_text())
    assert len(list((path / "recommendations").glob("part-*.parquet"))) == info["parts"]
    frame = read_recommendations(path / "recommendations")
    assert frame.height == info["rows"] > 0 and (path / "config.yaml").is_file()
    assert frame["user_id"].n_unique() == info["users"]
    return f"{info['bundle_version']}:{info['rows']}"


@pytest.mark.parametrize("command,artifact,verify,kills", [
    ("train", Path("data/models/als"), _verify_model_dir, KILLS),
    ("export", Path("data/bundle"), _verify_bundle, KILLS),
    ("batch-recommend", Path("data/recs"), _verify_recs, 8),
    ("update", Path("data/bundle"), _verify_bundle, 8),  # in place: the new version replaces the bundle
])
def test_a_killed_stage_leaves_a_whole_artifact_and_a_rerun_succeeds(root: Path, command: str, artifact: Path,
                                                                     verify, kills: int) -> None:  # noqa: ANN001
    args = _recsys(root, command)
    path = root / artifact
    versions = {verify(path)}
    duration = _duration(args)
    versions.add(verify(path))
    finished = 0
    for i, delay in enumerate(_moments(duration, seed=len(command), kills=kills)):
        code = _kill_at(args, float(delay))
        if code is not None:
            assert code == 0
            finished += 1
        try:
            versions.add(verify(path))
        except Exception as exc:  # noqa: BLE001 - the message names the kill that broke it
            pytest.fail(f"kill {i} at {delay:.2f}s of {duration:.2f}s left {path} unusable: {exc}")
    assert finished < kills  # most kills landed mid-run
    done = subprocess.run(args, env=_env(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    verify(path)
    leftovers = [p.name for p in path.parent.iterdir() if p.name.startswith(f".{path.name}.")]
    assert leftovers == [], leftovers  # temporaries of the killed runs were cleaned by the rerun
