"""A hybrid's components tuned one by one (``tune.components``) before the blend.

The reference for a component's study is the study of the same model tuned
alone (``recsys tune model=NAME``) on the same data: same trials, same winner.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from recsys_cli import config
from recsys_cli.cli import app
from recsys_cli.config import Config
from recsys_cli.models import check_config, params_of
from recsys_cli.stages import train, tune
from tests.test_tune import prepared, root  # noqa: F401  (fixtures: one tiny pipeline, a copy per test)

runner = CliRunner()

HYBRID = [
    "model=hybrid", "model.mode=meta", "model.meta_trials=2",
    "model.components=[{name: ease, weight: 1.0, params: {l2: 300.0}},"
    " {name: als, weight: 1.0, params: {factors: 8, iterations: 4, num_threads: 1}}]",
    "+tune@tune.components.ease.space=ease",
]


def load(root: Path, *overrides: str) -> Config:  # noqa: F811
    cfg = config.load(["experiment=tiny", f"paths.root={root}", "tracking=none", *overrides])
    check_config(cfg)
    return cfg


def best(root: Path) -> dict:  # noqa: F811
    return json.loads((root / "data" / "tune" / "best_params.json").read_text())


def test_each_component_gets_the_study_of_its_model_alone(root: Path, tmp_path_factory: pytest.TempPathFactory) -> None:  # noqa: F811
    cfg = load(root, *HYBRID, "tune.trials=4", "tune.pruner=none")
    tune.run(cfg)
    tuned = best(root)
    # the reference: EASE tuned alone from the same configured params, on a copy of the same data
    alone_root = tmp_path_factory.mktemp("alone")
    for name in ("interim", "processed", "features"):
        shutil.copytree(root / "data" / name, alone_root / "data" / name)
    tune.run(load(alone_root, "model=ease", "model.l2=300.0", "tune.trials=4", "tune.pruner=none"))
    alone = best(alone_root)
    ease_study = tuned["components"][0]
    assert ease_study["component"] == 0 and ease_study["trials"] == 4
    assert ease_study["params"] == alone["params"] and ease_study["value"] == alone["value"]
    assert ease_study["default_params"]["l2"] == 300.0  # the configured component params are trial 0
    comps = tuned["params"]["components"]
    assert [c["name"] for c in comps] == ["ease", "als"]
    assert comps[0]["params"] == {"l2": 300.0, **alone["params"]}
    assert comps[1]["params"] == {"factors": 8, "iterations": 4, "num_threads": 1}  # no space for als: as configured
    assert len(tuned["components"]) == 1
    rows = json.loads((root / "data" / "tune" / "trials.json").read_text())
    assert [r["component"] for r in rows] == [0, 0, 0, 0] and all(r["model"] == "ease" for r in rows)
    assert (root / "reports" / "tune" / "components" / "0-ease" / "history.png").is_file()

    train.run(cfg)  # train applies the tuned components and learns the blend weights on valid
    info = json.loads((cfg.paths.models / "hybrid" / "train_info.json").read_text())
    assert info["params_source"].endswith("best_params.json")
    fitted = info["params"]["components"][0]["params"]
    assert {k: fitted[k] for k in alone["params"]} == alone["params"]


def test_a_rerun_resumes_each_component_study(root: Path) -> None:  # noqa: F811
    tune.run(load(root, *HYBRID, "tune.trials=2", "tune.pruner=none"))
    tune.run(load(root, *HYBRID, "tune.trials=3", "tune.pruner=none"))
    study = best(root)["components"][0]
    assert study["trials"] == 3 and study["resumed_from"] == 2


def test_component_trials_override_and_zero_trials_keep_the_configured_params(root: Path) -> None:  # noqa: F811
    tune.run(load(root, *HYBRID, "+tune@tune.components.als.space=als", "+tune.components.als.trials=2",
                  "tune.components.als.space.factors.high=16", "tune.trials=3", "tune.pruner=none"))
    studies = best(root)["components"]
    assert [(s["model"], s["trials"]) for s in studies] == [("ease", 3), ("als", 2)]
    tune.run(load(root, *HYBRID, "+tune.components.ease.trials=0"))
    assert best(root)["params"] == {} and "no component" in best(root)["note"]


def test_train_ignores_tuned_components_that_are_not_the_configured_ones(root: Path) -> None:  # noqa: F811
    cfg = load(root, *HYBRID, "tune.trials=2", "tune.pruner=none")
    tune.run(cfg)
    other = load(root, *HYBRID, "model.components=[{name: ease, weight: 1.0, params: {l2: 300.0}}]")
    overrides, source = train.tuned_params(other)
    assert overrides == {} and "not model.components" in source
    assert train.tuned_params(cfg)[0]["components"][0]["name"] == "ease"


@pytest.mark.parametrize("override, message", [
    ("+tune.components.ease.space.factors={type: int, low: 1, high: 4}", "tune.components.ease.space.factors (conf/tune/ease.yaml): ease has no param 'factors'"),
    ("+tune.components.nosuch.trials=3", "tune.components.nosuch: not a model a hybrid can hold"),
    ("+tune.components.ease.trials=-1", "tune.components.ease.trials"),
])
def test_bad_component_tuning_config_fails_with_one_line(root: Path, override: str, message: str) -> None:  # noqa: F811
    result = runner.invoke(app, ["tune", "experiment=tiny", f"paths.root={root}", *HYBRID, override])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and message in " ".join(result.output.split()), result.output


@pytest.mark.parametrize("experiment", ["ml100k_msr", "ml100k_recbole"])
def test_ml100k_experiments_default_to_their_tuned_hybrid_and_still_run_any_model(experiment: str) -> None:
    cfg = config.load([f"experiment={experiment}"])
    check_config(cfg)
    hybrid = params_of(cfg.model)
    assert cfg.model.name == "hybrid" and hybrid.mode == "meta"
    assert [c.name for c in hybrid.components] == ["ease", "als", "multvae"]
    assert set(cfg.tune.components) == {"ease", "als", "multvae"} and cfg.tune.components["multvae"].trials == 5
    assert cfg.tune.space == {}  # the hybrid's own space is not searched: its components are
    single = config.load([f"experiment={experiment}", "model=ease"])
    check_config(single)
    assert single.model.name == "ease" and "l2" in single.tune.space and single.tune.trials == 20
