"""recsys tune: stored, resumable, pruned Optuna studies on the valid window.

One tiny pipeline (ingest, split, features) is prepared once; each test tunes
in its own copy, so studies never leak between tests. Spaces are shrunk where
a test only needs a few fast trials.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import optuna
import pytest
from typer.testing import CliRunner

from recsys_cli import config, tuning
from recsys_cli.cli import app
from recsys_cli.config import Config, ParamSpace, TuneConfig
from recsys_cli.errors import ConfigError
from recsys_cli.evaluation.metrics import evaluate
from recsys_cli.models import check_config, params_of
from recsys_cli.models.als import ALS, ALSParams
from recsys_cli.models.base import TrainData
from recsys_cli.models.bpr import BPR, BPRParams
from recsys_cli.models.lmf import LMF, LMFParams
from recsys_cli.schema import to_dict
from recsys_cli.stages import features, ingest, split, train, tune
from recsys_cli.stages.inputs import train_data
from recsys_cli.tuning import results
from recsys_cli.tuning.space import default_point, sample
from recsys_cli.errors import StageInputError
from recsys_cli.tuning.storage import RunJournal, opened, storage_path
from recsys_cli.tuning.study import study_name, window_fingerprint
from tests.models.contract import checkerboard

runner = CliRunner()
CONF = Path(__file__).resolve().parents[1] / "conf"

# ALS shrunk to a few fast iterations; the configured params (factors 64, 15 iterations) stay trial 0's
SMALL_ALS = [
    "tune.space.factors.low=4", "tune.space.factors.high=64", "tune.space.iterations.low=2",
    "tune.space.iterations.high=15", "model.num_threads=1",
]


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tune-data")
    cfg = config.load(["experiment=tiny", f"paths.root={root}"])
    ingest.run(cfg)
    split.run(cfg)
    features.run(cfg)
    return root


@pytest.fixture
def root(prepared: Path, tmp_path: Path) -> Path:
    for name in ("interim", "processed", "features"):
        shutil.copytree(prepared / "data" / name, tmp_path / "data" / name)
    return tmp_path


def load(root: Path, *overrides: str) -> Config:
    small = SMALL_ALS if not any(o.startswith("model=") for o in overrides) else []
    cfg = config.load(["experiment=tiny", f"paths.root={root}", *small, *overrides])
    check_config(cfg)
    return cfg


def trials(root: Path) -> list[dict]:
    return json.loads((root / "data" / "tune" / "trials.json").read_text())


def best(root: Path) -> dict:
    return json.loads((root / "data" / "tune" / "best_params.json").read_text())


def finished(rows: list[dict]) -> list[dict]:
    return [r for r in rows if r["state"] in ("complete", "pruned")]


# --------------------------------------------------------------------------- the study


def test_default_params_are_trial_zero_and_best_is_never_worse(root: Path) -> None:
    cfg = load(root, "tune.trials=4", "tune.pruner=none")
    tune.run(cfg)
    rows, top = trials(root), best(root)
    assert rows[0]["default"] and rows[0]["params"] == {"factors": 64, "regularization": 0.05, "alpha": 2.0, "iterations": 15}
    assert top["default_value"] == rows[0]["value"]
    assert top["value"] == max(r["value"] for r in rows) >= top["default_value"]
    assert top["trials"] == 4 and top["study"].startswith("als-")
    assert all(r["fit_seconds"] > 0 and r["eval_seconds"] > 0 for r in rows)


def test_timeout_stops_the_study_and_a_rerun_resumes_it(root: Path) -> None:
    tune.run(load(root, "tune.trials=3", "tune.timeout=0.001"))  # the timeout is checked after each trial
    first = trials(root)
    assert [r["number"] for r in first] == [0] and best(root)["trials"] == 1
    tune.run(load(root, "tune.trials=3"))
    rows, top = trials(root), best(root)
    assert [r["number"] for r in rows] == [0, 1, 2] and top["trials"] == 3 and top["resumed_from"] == 1
    assert rows[0] == first[0]  # the stored trial is kept, not re-run
    tune.run(load(root, "tune.trials=3"))  # already done: nothing new
    assert len(trials(root)) == 3 and best(root)["resumed_from"] == 3


def test_interrupted_between_trials_resumes_with_new_params(root: Path) -> None:
    cfg = load(root, "tune.trials=4", "tune.pruner=none", "tune.n_startup_trials=10")
    data = train_data(cfg, stage="tune")

    def interrupt(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        if trial.number == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        tuning.tune(cfg, data, cfg.paths.tune, callbacks=[interrupt])
    tune.run(cfg)
    rows = trials(root)
    assert [r["number"] for r in rows] == [0, 1, 2, 3] and all(r["state"] == "complete" for r in rows)
    assert best(root)["resumed_from"] == 2
    # the resumed sampler does not replay the random draws the first run already made
    assert len({json.dumps(r["params"], sort_keys=True) for r in rows}) == 4


def test_a_trial_left_running_by_a_killed_run_is_retried(root: Path) -> None:
    cfg = load(root, "tune.trials=3", "tune.pruner=none")
    tune.run(dataclasses.replace(cfg, tune=dataclasses.replace(cfg.tune, trials=1)))
    name = study_name(cfg, window_fingerprint(cfg.paths.processed))
    with opened(storage_path(cfg.tune, cfg.paths.tune), cfg.tune.storage) as storage:
        orphan = optuna.load_study(study_name=name, storage=storage).ask()
        params = sample(orphan, cfg.tune.space)  # what a SIGKILL mid-fit leaves: a running trial, never told
    journal = cfg.paths.tune / "study.journal"
    with open(journal, "ab") as f:
        f.write(b'{"op_code": 5, "worker_id": "torn')  # and a record the kill tore mid-write
    tune.run(cfg)
    rows = trials(root)
    assert rows[1]["state"] == "fail"
    retry = next(r for r in rows if r["retry_of"] == 1)
    assert retry["state"] == "complete" and retry["params"] == params
    assert len(finished(rows)) == 3 and best(root)["trials"] == 3


def test_a_changed_space_starts_a_fresh_study_and_resume_false_starts_over(root: Path) -> None:
    tune.run(load(root, "tune.trials=2", "tune.pruner=none"))
    first = best(root)["study"]
    tune.run(load(root, "tune.trials=2", "tune.pruner=none", "tune.space.alpha.high=10"))
    second = best(root)
    assert second["study"] != first and second["resumed_from"] == 0 and len(trials(root)) == 2
    tune.run(load(root, "tune.trials=2", "tune.pruner=none"))  # back to the first space: its study resumes
    assert best(root)["study"] == first and best(root)["resumed_from"] == 2
    tune.run(load(root, "tune.trials=2", "tune.pruner=none", "tune.resume=false"))
    assert best(root)["study"] == first and best(root)["resumed_from"] == 0 and len(trials(root)) == 2


def test_study_identity_reads_train_and_valid_never_test(root: Path) -> None:
    cfg = load(root)
    report_path = cfg.paths.processed / "split_report.json"
    base = study_name(cfg, window_fingerprint(cfg.paths.processed))
    report = json.loads(report_path.read_text())
    report["fingerprints"]["test"] = "something else"
    report["test"]["events"] = 1
    report_path.write_text(json.dumps(report))
    assert study_name(cfg, window_fingerprint(cfg.paths.processed)) == base
    report["fingerprints"]["valid"] = "a different valid window"
    report_path.write_text(json.dumps(report))
    assert study_name(cfg, window_fingerprint(cfg.paths.processed)) != base
    assert study_name(load(root, "tune.metric=recall@10"), window_fingerprint(cfg.paths.processed)) != study_name(
        load(root), window_fingerprint(cfg.paths.processed))


def test_one_tuner_at_a_time_per_journal(root: Path) -> None:
    cfg = load(root, "tune.trials=1")
    path = storage_path(cfg.tune, cfg.paths.tune)
    holder = RunJournal(path)
    try:
        with pytest.raises(StageInputError, match="in use by another `recsys tune`"):
            tune.run(cfg)
    finally:
        holder.close()
    tune.run(cfg)
    assert best(root)["trials"] == 1


def test_journal_and_sqlite_storage_live_next_to_best_params(root: Path) -> None:
    tune.run(load(root, "tune.trials=1"))
    tune.run(load(root, "tune.trials=1", "tune.storage=sqlite"))
    names = {p.name for p in (root / "data" / "tune").iterdir()}
    assert {"study.journal", "study.db", "best_params.json", "trials.json"} <= names
    assert results.BEST_PARAMS == train.BEST_PARAMS


# --------------------------------------------------------------------------- pruning


def test_median_pruner_prunes_a_hopeless_trial_from_its_iterations(root: Path) -> None:
    cfg = load(root, "tune.trials=6", "tune.pruner=median", "tune.prune_startup_trials=1", "tune.prune_warmup=0",
               "tune.report_every=1", "tune.n_startup_trials=2")
    space = {  # only the ridge varies: a huge one is hopeless from the first iteration on
        "factors": ParamSpace(type="int", low=16, high=16),
        "regularization": ParamSpace(type="categorical", choices=[0.05, 100000.0]),
        "iterations": ParamSpace(type="int", low=6, high=6),
    }
    cfg = dataclasses.replace(cfg, tune=dataclasses.replace(cfg.tune, space=space))
    tune.run(cfg)
    rows = trials(root)
    pruned = [r for r in rows if r["state"] == "pruned"]
    assert pruned, [(r["params"], r["curve"]) for r in rows]
    for r in pruned:
        assert r["value"] is None and r["params"]["regularization"] == 100000.0
        assert len(r["curve"]) < 6  # stopped before its last iteration
    for r in rows:
        if r["state"] == "complete":
            assert [e for e, _ in r["curve"]] == list(range(1, 7))
    assert best(root)["pruned"] == len(pruned) and best(root)["params"]["regularization"] == 0.05


def test_trials_report_the_studys_own_metric(root: Path) -> None:
    """tune.metric=recall@50: the per-iteration curve is valid recall@50, ending at the trial's value."""
    cfg = load(root, "tune.trials=2", "tune.pruner=median", "tune.report_every=1", "tune.metric=recall@50")
    space = {"factors": ParamSpace(type="int", low=8, high=8), "iterations": ParamSpace(type="int", low=3, high=3)}
    cfg = dataclasses.replace(cfg, tune=dataclasses.replace(cfg.tune, space=space))
    tune.run(cfg)
    for r in trials(root):
        assert [e for e, _ in r["curve"]] == [1, 2, 3]
        assert r["curve"][-1][1] == pytest.approx(r["value"], abs=1e-6)  # the last iteration's factors are the fit
    data = train_data(cfg, stage="tune")
    model = ALS(ALSParams(factors=8, iterations=3, num_threads=1)).fit(data)
    users = np.flatnonzero((np.diff(data.matrix.indptr) > 0) & (np.diff(data.valid.indptr) > 0))
    ndcg = evaluate(model.recommend, users, data.valid, data.n_items, [10], exclude=data.matrix).summary["ndcg@10"]
    assert trials(root)[0]["curve"][-1][1] != pytest.approx(ndcg, abs=1e-6)  # not NDCG@10


def test_successive_halving_runs_a_study(root: Path) -> None:
    tune.run(load(root, "tune.trials=4", "tune.pruner=halving", "tune.report_every=1"))
    rows = trials(root)
    assert len(finished(rows)) == 4 and all(r["curve"] for r in rows)


@pytest.mark.parametrize("make", [
    lambda: ALS(ALSParams(factors=8, iterations=5, num_threads=1)),
    lambda: BPR(BPRParams(factors=8, iterations=5)),
    lambda: LMF(LMFParams(factors=8, iterations=5)),
])
def test_implicit_models_report_each_iteration_without_changing_the_fit(make) -> None:
    train_m, held = checkerboard()
    data = TrainData(matrix=train_m, valid=held, seed=3)
    plain = make().fit(data)
    hooked = make()
    seen: list[tuple[int, float]] = []
    hooked.epoch_hook = lambda epoch, score: seen.append((epoch, score()))
    hooked.fit(data)
    np.testing.assert_array_equal(plain.item_factors, hooked.item_factors)
    assert [e for e, _ in seen] == [1, 2, 3, 4, 5]
    users = np.flatnonzero(np.diff(held.indptr) > 0)
    final = evaluate(hooked.recommend, users, held, data.n_items, [10], exclude=train_m).summary["ndcg@10"]
    assert seen[-1][1] == pytest.approx(final, abs=1e-12)  # the score is of the factors as they stand
    assert len({round(v, 9) for _, v in seen}) > 1

    class Stop(Exception):
        pass

    def stop(epoch: int, score) -> None:
        if epoch == 2:
            raise Stop
    stopped = make()
    stopped.epoch_hook = stop
    with pytest.raises(Stop):
        stopped.fit(data)


def test_torch_loop_hands_its_valid_scores_to_the_hook_and_can_be_stopped() -> None:
    from tests.models.test_neural import tiny_neumf, with_valid

    data = with_valid()
    model = tiny_neumf(epochs=4, patience=10)
    seen: list[tuple[int, float]] = []
    model.epoch_hook = lambda epoch, score: seen.append((epoch, score()))
    model.fit(data)
    assert seen == list(enumerate(model.history.valid, start=1))
    unmeasured = tiny_neumf(epochs=3, patience=None)  # no early stopping: the hook's score() measures on demand
    got: list[tuple[int, float]] = []
    unmeasured.epoch_hook = lambda epoch, score: got.append((epoch, score()))
    unmeasured.fit(data)
    assert [e for e, _ in got] == [1, 2, 3] and unmeasured.history.valid == []
    plain = tiny_neumf(epochs=3, patience=None).fit(data)
    users = np.arange(5)
    np.testing.assert_array_equal(plain.score(users), unmeasured.score(users))  # measuring changed nothing

    def prune(epoch: int, score) -> None:
        if epoch == 2:
            raise optuna.TrialPruned
    stopped = tiny_neumf(epochs=6, patience=10)
    stopped.epoch_hook = prune
    with pytest.raises(optuna.TrialPruned):
        stopped.fit(data)


# --------------------------------------------------------------------------- spaces, outputs, CLI


def test_conditional_params_are_sampled_only_under_their_condition(root: Path) -> None:
    cfg = load(root, "model=itemknn", "tune.trials=8", "tune.n_startup_trials=8")
    tune.run(cfg)
    rows = trials(root)
    assert len({r["params"]["weighting"] for r in rows}) > 1
    for r in rows:
        has_bm25 = {"bm25_k1", "bm25_b"} <= set(r["params"])
        assert has_bm25 == (r["params"]["weighting"] == "bm25"), r["params"]


def test_plots_and_summary_under_reports_tune(root: Path) -> None:
    tune.run(load(root, "tune.trials=3", "tune.pruner=none"))
    folder = root / "reports" / "tune"
    for name in ("history.png", "importance.png"):
        assert (folder / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    importance = json.loads((folder / "importance.json").read_text())
    assert set(importance) <= {"factors", "regularization", "alpha", "iterations"}
    assert sum(importance.values()) == pytest.approx(1.0)
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["plots"] == {"history": "history.png", "importance": "importance.png"}


def test_one_trial_draws_history_and_says_why_there_is_no_importance(root: Path) -> None:
    tune.run(load(root, "tune.trials=1"))
    folder = root / "reports" / "tune"
    summary = json.loads((folder / "summary.json").read_text())
    assert (folder / "history.png").is_file() and not (folder / "importance.png").exists()
    assert summary["plots"]["importance"] == "skipped: needs at least 2 completed trials"


def test_train_applies_the_tuned_params(root: Path) -> None:
    cfg = load(root, "tune.trials=3", "tune.pruner=none")
    tune.run(cfg)
    train.run(cfg)
    info = json.loads((cfg.paths.models / "als" / "train_info.json").read_text())
    assert info["params_source"].endswith("best_params.json")
    assert {k: info["params"][k] for k in best(root)["params"]} == best(root)["params"]


def test_cli_tune_shows_progress_and_resumes(root: Path) -> None:
    args = ["tune", "experiment=tiny", f"paths.root={root}", *SMALL_ALS, "tune.trials=2"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "tuning als: best ndcg@10" in text and "2/2" in text and "eta" in text
    result = runner.invoke(app, [*args[:-1], "tune.trials=3"])
    assert result.exit_code == 0, result.output
    assert best(root)["resumed_from"] == 2 and len(trials(root)) == 3


@pytest.mark.parametrize("override, message", [
    ("tune.metric=ndcg", "tune.metric: 'ndcg' is not a ranking metric at a cutoff"),
    ("tune.metric=auc@10", "tune.metric: 'auc@10' is not a ranking metric"),
    ("+tune.space.factors.step=2", "tune.space.factors: a log space takes no step"),
    ("tune.space.iterations.low=2.5", "tune.space.iterations.low: an int space needs whole numbers"),
    ("+tune.space.regularization.when={alpha: 1.0}", "tune.space.regularization.when: 'alpha' must be a param listed before"),
    ("tune.pruner=hyperband", "tune.pruner: 'hyperband' is not allowed; choose one of: median, halving, none"),
    ("tune.storage=redis", "tune.storage: 'redis' is not allowed"),
    ("tune.report_every=0", "tune.report_every"),
])
def test_bad_tune_config_fails_with_one_line(root: Path, override: str, message: str) -> None:
    result = runner.invoke(app, ["tune", "experiment=tiny", f"paths.root={root}", override])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and message in " ".join(result.output.split()), result.output


def test_when_must_name_an_earlier_param() -> None:
    space = {"b": ParamSpace(type="float", low=0, high=1, when={"a": "x"}),
             "a": ParamSpace(type="categorical", choices=["x", "y"])}
    with pytest.raises(ConfigError, match="'a' must be a param listed before 'b'"):
        TuneConfig(space=space)


@pytest.mark.parametrize("model", sorted(p.stem for p in (CONF / "tune").glob("*.yaml") if p.stem != "default"))
def test_every_model_space_is_valid_and_holds_the_configured_params(model: str) -> None:
    cfg = config.load([f"model={model}"])
    check_config(cfg)
    point = default_point(cfg.tune.space, to_dict(params_of(cfg.model)))
    outside = {"tfidf", "embedding", "popularity"}  # their default (no decay, null) is not a point of a float range
    assert (point is None) == (model in outside)
