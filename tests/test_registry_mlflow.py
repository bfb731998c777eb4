"""`recsys export` registers the bundle as an MLflow pyfunc model; aliases from the CLI; a real server.

Everything runs against a real local MLflow store (sqlite) in a tmp dir; the
served test starts a real `mlflow models serve` subprocess on a free port.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from recsys_cli.cli import app
from recsys_cli.models import load_model

mlflow = pytest.importorskip("mlflow")
from mlflow import MlflowClient  # noqa: E402

runner = CliRunner()


def _uri(root: Path) -> str:
    return f"sqlite:///{(root / 'mlflow.db').resolve().as_posix()}"


@pytest.fixture(scope="module")
def registered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny pipeline (untracked), then two tracked exports: versions 1 and 2."""
    root = tmp_path_factory.mktemp("registry")
    base = ["data.scale=tiny", f"paths.root={root}", "tune.trials=0"]
    result = runner.invoke(app, ["run", *base, "tracking=none"])
    assert result.exit_code == 0, result.output
    assert not (root / "mlflow.db").exists()
    for version in (1, 2):
        result = runner.invoke(app, ["export", *base])
        assert result.exit_code == 0, result.output
        assert f"models:/recsys/{version}" in " ".join(result.output.split())
    return root


@pytest.fixture(scope="module")
def loaded(registered: Path):  # noqa: ANN201
    mlflow.set_tracking_uri(_uri(registered))
    return mlflow.pyfunc.load_model("models:/recsys/1")


def _batch(root: Path) -> dict[str, tuple[list[str], bool]]:
    recs = pl.read_parquet(root / "data/recs/recommendations/*.parquet").sort("user_id", "rank")
    grouped = recs.group_by("user_id", maintain_order=True).agg(pl.col("item_id"), pl.col("fallback").first())
    return {row["user_id"]: (row["item_id"], row["fallback"]) for row in grouped.iter_rows(named=True)}


def _popular(root: Path, k: int) -> list[str]:
    from recsys_cli.data.ids import load_ids

    fallback = load_model(root / "data/bundle/fallback")
    _, items = load_ids(root / "data/bundle/ids.npz")
    recs = fallback.recommend(np.zeros(1, dtype=np.int64), k)
    return [str(i) for i in items.external(recs.items[0]) if i]


def test_pyfunc_predict_gives_the_batch_recommendations(registered: Path, loaded) -> None:  # noqa: ANN001
    import pandas as pd

    batch = _batch(registered)
    warm = [u for u, (_, fb) in batch.items() if not fb][:15]
    cold = [u for u, (_, fb) in batch.items() if fb][:5]  # none in a production bundle: it saw every window
    assert warm
    users = [*warm, *cold, "no-such-user"]
    out = loaded.predict(pd.DataFrame({"user_id": users}))
    assert list(out.columns) == ["user_id", "item_ids", "scores", "fallback"]
    assert out["user_id"].tolist() == users
    for user, items, scores, fallback in out.itertuples(index=False):
        if user == "no-such-user":
            assert fallback and items == _popular(registered, 10)
            continue
        assert items == batch[user][0], user  # same model, same exclusions, same order
        assert fallback == batch[user][1]
        assert scores == sorted(scores, reverse=True)


def test_k_comes_from_params_and_a_dict_of_ids_works(registered: Path, loaded) -> None:  # noqa: ANN001
    batch = _batch(registered)
    user = next(u for u, (_, fb) in batch.items() if not fb)
    out = loaded.predict({"user_id": [user, "no-such-user"]}, params={"k": 3})
    assert out["item_ids"].tolist() == [batch[user][0][:3], _popular(registered, 3)]


def test_the_model_is_code_and_a_bundle_never_a_pickle(registered: Path) -> None:
    mlflow.set_tracking_uri(_uri(registered))
    local = Path(mlflow.artifacts.download_artifacts("models:/recsys/1"))
    files = {p.relative_to(local).as_posix() for p in local.rglob("*") if p.is_file()}
    assert not [f for f in files if f.endswith((".pkl", ".pickle", ".cloudpickle"))], files
    assert "artifacts/bundle/manifest.json" in files and "artifacts/bundle/history.npz" in files
    mlmodel = (local / "MLmodel").read_text()
    assert "python_function" in mlmodel and "loader_module: mlflow.pyfunc.loaders.code_model" in mlmodel
    assert "mlflow_model.py" in files and "python_model.pkl" not in files


def test_registry_aliases_from_the_cli(registered: Path) -> None:
    root = [f"paths.root={registered}"]
    for alias, version in (("champion", "1"), ("challenger", "2")):
        result = runner.invoke(app, ["registry", "alias", alias, version, *root])
        assert result.exit_code == 0, result.output
        assert f"recsys@{alias} -> version {version}" in " ".join(result.output.split())
    client = MlflowClient(_uri(registered))
    assert str(client.get_model_version_by_alias("recsys", "champion").version) == "1"
    assert str(client.get_model_version_by_alias("recsys", "challenger").version) == "2"
    result = runner.invoke(app, ["registry", "alias", "champion", "2", *root])  # promote
    assert result.exit_code == 0, result.output
    assert str(client.get_model_version_by_alias("recsys", "champion").version) == "2"
    listed = runner.invoke(app, ["registry", "list", *root])
    assert listed.exit_code == 0, listed.output
    rows = [line for line in listed.output.splitlines() if "│" in line]
    assert any(" 2 " in r and "challenger" in r and "champion" in r for r in rows), listed.output
    assert any(" 1 " in r and "champion" not in r for r in rows), listed.output


def test_registry_errors_are_one_line(registered: Path, tmp_path: Path) -> None:
    cases = [
        (["registry", "alias", "champion", "99", f"paths.root={registered}"], 1, "version 99"),
        (["registry", "alias", "champion", "latest-one", f"paths.root={registered}"], 2, "not a version number"),
        (["registry", "list", f"paths.root={tmp_path}"], 1, "no MLflow store"),
        (["registry", "list", f"paths.root={registered}", "tracking=none"], 2, "tracking is off"),
    ]
    for args, code, text in cases:
        result = runner.invoke(app, args)
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert result.exit_code == code, result.output
        assert len(lines) == 1 and text in lines[0], result.output
    assert not (tmp_path / "mlflow.db").exists()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _post(port: int, body: dict) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/invocations", data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"}, method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


@pytest.mark.slow
def test_mlflow_models_serve_answers_user_ids(registered: Path) -> None:
    port = _free_port()
    env = {**os.environ, "MLFLOW_TRACKING_URI": _uri(registered), "OPENBLAS_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "models", "serve", "-m", "models:/recsys/1", "--env-manager", "local",
         "-h", "127.0.0.1", "-p", str(port), "-w", "1"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                output = proc.stdout.read().decode(errors="replace") if proc.poll() is not None else "(still starting)"
                pytest.fail(f"mlflow models serve did not come up: {output[-2000:]}")
            time.sleep(0.5)
        batch = _batch(registered)
        user = next(u for u, (_, fb) in batch.items() if not fb)
        answer = _post(port, {"dataframe_split": {"columns": ["user_id"], "data": [[user], ["nobody"]]},
                              "params": {"k": 4}})
        first, second = answer["predictions"]
        assert first == {**first, "user_id": user, "item_ids": batch[user][0][:4], "fallback": False}
        assert second["user_id"] == "nobody" and second["fallback"] is True
        assert second["item_ids"] == _popular(registered, 4)
        plain = _post(port, {"inputs": [user]})  # a bare list of ids, default k
        assert plain["predictions"][0]["item_ids"] == batch[user][0]
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        if proc.stdout:
            proc.stdout.close()
