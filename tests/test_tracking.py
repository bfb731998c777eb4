"""MLflow tracking of stage runs, against a real local MLflow store in a tmp dir (no mocks)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from recsys_cli import __version__, config, tracking
from recsys_cli.cli import app

mlflow = pytest.importorskip("mlflow")
from mlflow import MlflowClient  # noqa: E402

runner = CliRunner()
STAGES = ["ingest", "split", "features", "tune", "train", "eval", "export", "batch-recommend"]


def _client(root: Path) -> MlflowClient:
    return MlflowClient(f"sqlite:///{(root / 'mlflow.db').resolve().as_posix()}")


def _runs(root: Path) -> list:
    client = _client(root)
    experiment = client.get_experiment_by_name("recsys")
    assert experiment is not None
    return client.search_runs([experiment.experiment_id], order_by=["attributes.start_time ASC"], max_results=500)


def _artifacts(client: MlflowClient, run_id: str, path: str | None = None) -> set[str]:
    out = set()
    for item in client.list_artifacts(run_id, path):
        out.add(item.path)
        if item.is_dir:
            out |= _artifacts(client, run_id, item.path)
    return out


# ----------------------------------------------------------------------- pure helpers


def test_metric_keys_are_mlflow_safe() -> None:
    assert tracking.metric_key("ndcg@10") == "ndcg_at_10"
    assert tracking.metric_key("cold.recall@5.ci_low") == "cold.recall_at_5.ci_low"
    assert tracking.metric_key("a:b(c)") == "a_b_c_"
    assert len(tracking.metric_key("x" * 400)) == tracking.MAX_KEY


def test_flatten_and_param_values() -> None:
    flat = tracking.flatten({"a": {"b": 1, "c": {"d": [1, 2]}}, "e": {}, "f": None})
    assert flat == {"a.b": 1, "a.c.d": [1, 2], "e": {}, "f": None}
    assert tracking.param_value([1, 2]) == "[1, 2]" and tracking.param_value(None) == "null"
    long = tracking.param_value("x" * 10_000)
    assert len(long) == tracking.MAX_PARAM_VALUE and long.endswith("...[10000 chars]")
    assert tracking.numeric({"a": {"n@5": 1, "ok": True, "s": "x"}}, "p") == {"p.a.n_at_5": 1.0}


# -------------------------------------------------------------- a whole tracked run


@pytest.fixture(scope="module")
def tracked_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tracked")
    result = runner.invoke(app, ["run", "data.scale=tiny", f"paths.root={root}", "tune.trials=2"])
    assert result.exit_code == 0, result.output
    return root


def test_run_is_one_parent_with_a_nested_run_per_stage(tracked_run: Path) -> None:
    runs = _runs(tracked_run)
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    assert [r.info.run_name for r in parents] == ["run"]
    parent = parents[0]
    stages = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert [r.info.run_name for r in stages] == STAGES
    assert all(r.info.status == "FINISHED" for r in [parent, *stages])
    assert not (tracked_run / "mlruns").exists()
    assert (tracked_run / "mlartifacts").is_dir()


def test_every_run_has_the_whole_config_and_the_tags(tracked_run: Path) -> None:
    cfg = config.load(["data.scale=tiny", f"paths.root={tracked_run}", "tune.trials=2"])
    expected = {tracking.metric_key(k): tracking.param_value(v) for k, v in tracking.flatten(cfg.to_dict()).items()}
    events_sha = hashlib.sha256((tracked_run / "data/interim/events.parquet").read_bytes()).hexdigest()
    fingerprints = json.loads((tracked_run / "data/processed/split_report.json").read_text())["fingerprints"]
    split_sha = hashlib.sha256(json.dumps(fingerprints, sort_keys=True).encode()).hexdigest()
    runs = [r for r in _runs(tracked_run) if not r.info.run_name.startswith("trial-")]
    assert len(runs) == 1 + len(STAGES)
    for run in runs:
        assert run.data.params == expected, run.info.run_name
        tags = run.data.tags
        assert tags["recsys.version"] == __version__
        assert tags["git.commit"] == "unknown" or len(tags["git.commit"]) == 40
        assert tags["model.name"] == "als"
        assert tags["dataset.hash"] == events_sha, run.info.run_name
        if run.info.run_name != "ingest":  # ingest ends before the split exists
            assert tags["split.hash"] == split_sha, run.info.run_name
    assert expected["data.scale"] == "tiny" and expected["tune.trials"] == "2"


def test_stage_outputs_are_artifacts_and_eval_metrics_are_metrics(tracked_run: Path) -> None:
    client = _client(tracked_run)
    by_name = {r.info.run_name: r for r in _runs(tracked_run)}
    wanted = {
        "ingest": {"ingest_report.json"},
        "split": {"split_report.json"},
        "features": {"features_report.json"},
        "tune": {"tune/best_params.json", "tune/trials.json"},
        "train": {"model/train_info.json", "model/model/manifest.json", "model/fallback/manifest.json"},
        "eval": {"metrics.json", "per_user.parquet", "segments.json", "plots/metrics_at_k.json", "plots/metrics_at_k.png"},
    }
    for name, files in wanted.items():
        assert files <= _artifacts(client, by_name[name].info.run_id), name
    metrics = json.loads((tracked_run / "reports/metrics.json").read_text())
    logged = by_name["eval"].data.metrics
    assert logged["ndcg_at_10"] == pytest.approx(metrics["ndcg@10"])
    assert logged["cold.recall_at_5"] == pytest.approx(metrics["cold.recall@5"])
    numeric = [k for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)]
    assert {tracking.metric_key(k) for k in numeric} <= set(logged)
    # the parent carries the headline numbers too, to compare whole runs
    assert by_name["run"].data.metrics["ndcg_at_10"] == pytest.approx(metrics["ndcg@10"])
    assert by_name["train"].data.metrics["train.fit_seconds"] >= 0


def test_export_registers_a_version_and_tags_its_run(tracked_run: Path) -> None:
    client = _client(tracked_run)
    export = next(r for r in _runs(tracked_run) if r.info.run_name == "export")
    assert export.data.tags["registered_model.uri"] == "models:/recsys/1"
    version = client.get_model_version("recsys", "1")
    assert version.run_id == export.info.run_id and str(version.version) == "1"
    assert version.tags["model.name"] == "als"


# --------------------------------------------------------------------- switches


def test_tracking_none_writes_no_store(tmp_path: Path) -> None:
    result = runner.invoke(app, ["ingest", "data.scale=tiny", f"paths.root={tmp_path}", "tracking=none"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "data/interim/events.parquet").is_file()
    assert not (tmp_path / "mlflow.db").exists() and not (tmp_path / "mlartifacts").exists()


def test_a_bad_explicit_uri_fails_before_any_work(tmp_path: Path) -> None:
    result = runner.invoke(app, ["ingest", "data.scale=tiny", f"paths.root={tmp_path}", "tracking.uri=nosuchscheme://x"])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "tracking.uri=nosuchscheme://x" in lines[0], result.output
    assert not (tmp_path / "data").exists()


def test_an_explicit_uri_is_used(tmp_path: Path) -> None:
    uri = f"sqlite:///{(tmp_path / 'elsewhere.db').as_posix()}"
    result = runner.invoke(app, ["ingest", "data.scale=tiny", f"paths.root={tmp_path}", f"tracking.uri={uri}",
                                 "tracking.experiment=other"])
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "mlflow.db").exists()
    client = MlflowClient(uri)
    runs = client.search_runs([client.get_experiment_by_name("other").experiment_id])
    assert [r.info.run_name for r in runs] == ["ingest"]


def test_a_failing_stage_marks_its_run_failed(tmp_path: Path) -> None:
    result = runner.invoke(app, ["eval", f"paths.root={tmp_path}"])
    assert result.exit_code == 1
    (run,) = _runs(tmp_path)
    assert run.info.run_name == "eval" and run.info.status == "FAILED"
    assert "run `recsys split` first" in run.data.tags["error"]


# --------------------------------------------------- the API stages and the tuner call


def _cfg(root: Path) -> config.Config:
    return config.load(["data.scale=tiny", f"paths.root={root}"])


def test_ctrl_c_marks_the_runs_killed(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path)
    with pytest.raises(KeyboardInterrupt):
        with tracking.session(cfg, "run", ["ingest", "split"]):
            with tracking.stage(cfg, "ingest"):
                assert tracking.active()
                raise KeyboardInterrupt
    assert not tracking.active()
    statuses = {r.info.run_name: r.info.status for r in _runs(tmp_path)}
    assert statuses == {"run": "KILLED", "ingest": "KILLED"}


def test_trials_are_nested_under_tune_with_their_curves(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path)
    with tracking.session(cfg, "tune", ["tune"]), tracking.stage(cfg, "tune"):
        for number in range(2):
            for epoch in range(3):  # what a training loop logs during a trial
                tracking.log_metrics({"loss": 1.0 / (epoch + 1 + number)}, step=epoch)
            tracking.log_trial(number, {"factors": 8 * (number + 1), "nested": {"a": 1}}, 0.1 * (number + 1),
                               "COMPLETE", curve=[0.01, 0.05, 0.1 * (number + 1)])
        tracking.log_trial(2, {"factors": 1}, None, "TrialState.FAIL")
    client = _client(tmp_path)
    runs = {r.info.run_name: r for r in _runs(tmp_path)}
    tune = runs["tune"]
    for number in range(2):
        trial = runs[f"trial-{number}"]
        assert trial.data.tags["mlflow.parentRunId"] == tune.info.run_id
        assert trial.data.params == {"factors": str(8 * (number + 1)), "nested.a": "1"}
        assert trial.data.metrics["ndcg_at_10"] == pytest.approx(0.1 * (number + 1))
        curve = client.get_metric_history(trial.info.run_id, "curve")
        assert [m.step for m in curve] == [0, 1, 2] and curve[-1].value == pytest.approx(0.1 * (number + 1))
        loss = client.get_metric_history(trial.info.run_id, "loss")
        assert sorted((m.step, m.value) for m in loss) == [(e, pytest.approx(1.0 / (e + 1 + number))) for e in range(3)]
    assert runs["trial-2"].info.status == "FAILED"
    assert "loss" not in tune.data.metrics  # a trial's curve is the trial's, not the stage's


def test_epoch_curves_of_a_stage_have_steps(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path)
    with tracking.session(cfg, "train", ["train"]), tracking.stage(cfg, "train"):
        for epoch in range(4):
            tracking.log_metrics({"valid_ndcg@10": 0.1 * epoch, "flag": True}, step=epoch)
        tracking.log_params({"extra": {"note": "x" * 7000}})
    (run,) = _runs(tmp_path)
    history = _client(tmp_path).get_metric_history(run.info.run_id, "valid_ndcg_at_10")
    assert [m.step for m in history] == [0, 1, 2, 3]
    assert "flag" not in run.data.metrics
    assert len(run.data.params["extra.note"]) == tracking.MAX_PARAM_VALUE


def test_an_mlflow_error_is_a_warning_not_a_failure(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = _cfg(tmp_path)
    with tracking.session(cfg, "train", ["train"]), tracking.stage(cfg, "train"):
        tracking.log_params({"model.name": "not-als"})  # MLflow refuses to change a logged param
        tracking.log_metrics({"after": 1.0})
    err = capsys.readouterr().err
    assert "warning: mlflow: log params" in " ".join(err.split())
    (run,) = _runs(tmp_path)
    assert run.info.status == "FINISHED" and run.data.params["model.name"] == "als"
    assert run.data.metrics["after"] == 1.0


def test_outside_a_session_the_api_does_nothing(tmp_path: Path) -> None:
    assert not tracking.active()
    tracking.log_metrics({"x": 1.0}, step=1)
    tracking.log_params({"x": 1})
    tracking.log_artifact(tmp_path)
    tracking.log_trial(0, {}, 1.0, "COMPLETE")
    assert tracking.register_bundle(tmp_path, "recsys") is None
    assert not (tmp_path / "mlflow.db").exists()


def test_a_broken_local_store_is_a_warning_and_the_stage_still_runs(tmp_path: Path) -> None:
    (tmp_path / "mlflow.db").mkdir()  # sqlite cannot open a directory
    result = runner.invoke(app, ["ingest", "data.scale=tiny", f"paths.root={tmp_path}"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "warning: mlflow: local MLflow store" in text and "running untracked" in text
    assert (tmp_path / "data/interim/events.parquet").is_file()
