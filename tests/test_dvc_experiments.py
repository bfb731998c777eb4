"""DVC experiments end to end: `dvc exp run -S` composes params.yaml from conf/ through DVC's
Hydra composition (.dvc/config: hydra.enabled), the pipeline runs on tiny data, `dvc exp show`
lists the metrics, `dvc metrics diff` compares two experiments, and `recsys config --out
params.yaml` writes the same params, so switching between the two re-runs nothing.

A throwaway git repo of this project's dvc.yaml, conf/, .dvc/config and code; ~30-40 s.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import recsys_cli

ROOT = Path(recsys_cli.__file__).resolve().parent.parent
RECSYS = Path(sys.executable).parent / "recsys"
BASE = ["data.scale=tiny", "tracking=none", "tune.trials=0", "eval.bootstrap=0"]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("dvc") is None and not (Path(sys.executable).parent / "dvc").exists(),
                       reason="needs the dvc command"),
    pytest.mark.skipif(not RECSYS.exists(), reason="needs the installed recsys command"),
    pytest.mark.skipif(not (ROOT / "dvc.yaml").is_file(), reason="needs the project checkout (dvc.yaml, conf/)"),
]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = str(ROOT)  # the code under test, whatever the install points at
    env["OPENBLAS_NUM_THREADS"] = "1"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    for role in ("AUTHOR", "COMMITTER"):
        env[f"GIT_{role}_NAME"], env[f"GIT_{role}_EMAIL"] = "test", "test@example.com"
    return env


def _run(repo: Path, *args: str) -> str:
    result = subprocess.run(args, cwd=repo, env=_env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"{' '.join(args)}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = tmp_path_factory.mktemp("dvcrepo")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("conf", "recsys_cli"):
        shutil.copytree(ROOT / name, repo / name, ignore=ignore)
    for name in ("dvc.yaml", ".dvcignore"):
        shutil.copy(ROOT / name, repo / name)
    _run(repo, "git", "init", "-q")
    _run(repo, "dvc", "init", "-q")
    shutil.copy(ROOT / ".dvc" / "config", repo / ".dvc" / "config")  # hydra.enabled, config_dir conf
    _run(repo, "recsys", "config", "--out", "params.yaml", *BASE)
    (repo / ".gitignore").write_text("/data/\n/mlruns/\n/reports/per_user.parquet\n")
    _run(repo, "git", "add", ".")
    _run(repo, "git", "commit", "-qm", "baseline")
    return repo


def test_exp_run_composes_params_and_compares(repo: Path) -> None:
    set_params = [f"-S{item}" for item in BASE]
    _run(repo, "dvc", "exp", "run", "-n", "pop", *set_params, "-Smodel=popularity")
    composed = (repo / "params.yaml").read_text()
    assert "name: popularity" in composed and "scale: tiny" in composed
    # recsys config --out writes the very same bytes, so DVC sees no param change
    _run(repo, "recsys", "config", "--out", "params.yaml", *BASE, "model=popularity")
    assert (repo / "params.yaml").read_text() == composed
    assert "up to date" in _run(repo, "dvc", "status")

    log = _run(repo, "dvc", "exp", "run", "-n", "recent", *set_params, "-Smodel=popularity", "-Smodel.half_life_days=7")
    assert "Running stage 'ingest'" not in log  # a model change never re-runs ingest

    show = json.loads(_run(repo, "dvc", "exp", "show", "--json"))
    rows = {exp["name"]: exp for commit in show for exp in commit.get("experiments") or [] for exp in [exp["revs"][0]]}
    assert {"pop", "recent"} <= set(rows)

    def metric(name: str, key: str) -> object:
        data = rows[name]["data"]
        return next(iter(m["data"][key] for m in data["metrics"].values() if key in m["data"]))

    assert metric("pop", "model") == metric("recent", "model") == "popularity"
    assert 0.0 <= float(metric("recent", "ndcg@10")) <= 1.0
    params = rows["recent"]["data"]["params"]["params.yaml"]["data"]
    assert params["model"]["name"] == "popularity" and params["model"]["half_life_days"] == 7
    assert params["data"]["scale"] == "tiny"

    diff = json.loads(_run(repo, "dvc", "metrics", "diff", "pop", "recent", "--json"))
    changes = next(iter(diff.values()))
    assert "ndcg@10" in changes and changes["ndcg@10"]["old"] != changes["ndcg@10"]["new"]
    plots = json.loads(_run(repo, "dvc", "plots", "diff", "pop", "recent", "--json"))
    assert any(len(p.get("revisions", [])) == 2 for spec in plots["data"].values() for p in spec)
