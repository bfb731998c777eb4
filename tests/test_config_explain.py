"""`recsys config --explain`: every key's value and source; `--out` writes what DVC's Hydra composition writes."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from recsys_cli import config
from recsys_cli.cli import app
from recsys_cli.config_explain import Entry, composed_yaml, explain, format_value

runner = CliRunner()


def _by_key(entries: list[Entry]) -> dict[str, Entry]:
    return {e.key: e for e in entries}


@pytest.fixture(scope="module")
def default_entries() -> dict[str, Entry]:
    return _by_key(explain([]))


def test_every_leaf_of_the_validated_config_is_listed(default_entries: dict[str, Entry]) -> None:
    cfg = config.load()
    flat: dict[str, object] = {}
    stack: list[tuple[tuple[str, ...], dict]] = [((), cfg.to_dict())]
    while stack:
        prefix, node = stack.pop()
        for key, value in node.items():
            if isinstance(value, dict) and value:
                stack.append(((*prefix, key), value))
            else:
                flat[".".join((*prefix, key))] = value
    assert set(flat) <= set(default_entries)
    for key, value in flat.items():
        assert default_entries[key].value == value, key


def _write_conf(root: Path) -> Path:
    """A small conf/ of our own, so the expected sources do not move when the project's conf/ does."""
    files = {
        "config.yaml": """
defaults:
  - _self_
  - data: shop
  - model: als
  - optional tune@tune.space: ${model}
  - experiment: null
seed: 1
split: {}
features: {}
tune: {trials: 3}
eval: {}
recommend: {k: 5}
paths: {}
""",
        "data/shop.yaml": "scale: tiny\nseed: 5\n",
        "data/other.yaml": "scale: medium\n",
        "model/als.yaml": "name: als\nfactors: 8\n",
        "model/popularity.yaml": "name: popularity\n",
        "tune/als.yaml": "factors: {type: int, low: 2, high: 32, log: true}\n",
        "experiment/small.yaml": """# @package _global_
defaults:
  - override /model: popularity
seed: 3
data: {scale: small}
""",
    }
    conf = root / "conf"
    for name, text in files.items():
        (conf / name).parent.mkdir(parents=True, exist_ok=True)
        (conf / name).write_text(text)
    return conf


@pytest.fixture(scope="module")
def conf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _write_conf(tmp_path_factory.mktemp("explain"))


def test_sources_in_precedence_order(conf: Path) -> None:
    e = _by_key(explain([], directory=conf))
    assert e["seed"].source == "config.yaml" and e["seed"].value == 1
    assert e["tune.trials"].source == "config.yaml"
    assert e["recommend.k"].source == "config.yaml"
    assert e["recommend.batch_size"].source == "default"  # RecommendConfig's default
    assert e["data.scale"].source == "group data/shop.yaml" and e["data.scale"].value == "tiny"
    assert e["data.source"].source == "default"
    assert e["model.factors"].source == "group model/als.yaml" and e["model.factors"].value == 8
    assert e["model.iterations"].source == "default"  # the model's Params default, listed though no YAML sets it
    assert e["tune.space.factors.log"].source == "group tune/als.yaml"  # composed by `tune@tune.space: ${model}`
    assert e["tune.space.factors.low"].value == 2.0  # the validated value
    assert e["tune.space.factors.step"].source == "default"  # ParamSpace default
    assert all(x.note == "" for x in e.values())  # every group option is the defaults list's own


def test_experiment_beats_groups_and_names_the_groups_it_chose(conf: Path) -> None:
    e = _by_key(explain(["experiment=small"], directory=conf))
    assert e["seed"].source == "experiment small.yaml" and e["seed"].value == 3
    assert e["data.scale"].source == "experiment small.yaml" and e["data.scale"].value == "small"
    assert e["data.seed"].source == "group data/shop.yaml"  # the experiment leaves it
    assert e["model.name"].source == "group model/popularity.yaml"
    assert e["model.name"].note == "chosen by experiment/small.yaml"
    assert "tune.space.factors.low" not in e  # popularity has no search space here


def test_overrides_beat_everything(conf: Path) -> None:
    e = _by_key(explain(["experiment=small", "seed=9", "data=other", "model=als", "model.factors=4"], directory=conf))
    assert e["seed"].source == "override seed=9" and e["seed"].value == 9
    assert e["data.scale"].source == "experiment small.yaml"  # the experiment's value still beats the group
    assert e["model.factors"].source == "override model.factors=4" and e["model.factors"].value == 4
    assert e["model.name"].note == "chosen by override model=als"
    assert e["data.seed"].source == "default"  # data/other.yaml has no seed


def test_a_dict_override_sets_only_its_own_leaves(conf: Path) -> None:
    e = _by_key(explain(["tune.space.factors={type: int, low: 1, high: 3}"], directory=conf))
    assert e["tune.space.factors.high"].source == "override tune.space.factors={type: int, low: 1, high: 3}"
    assert e["tune.space.factors.high"].value == 3.0
    # the mapping replaces the group's (config.compose): log is back to its schema default
    assert e["tune.space.factors.log"].source == "default" and e["tune.space.factors.log"].value is False
    e = _by_key(explain(["+tune.space.factors={type: int, low: 1, high: 3}"], directory=conf))
    # the + form merges as Hydra does: log is still tune/als.yaml's
    assert e["tune.space.factors.log"].source == "group tune/als.yaml" and e["tune.space.factors.log"].value is True


def test_sources_of_the_project_conf(default_entries: dict[str, Entry]) -> None:
    src = {k: e.source for k, e in default_entries.items()}
    assert src["seed"] == "config.yaml"
    assert src["data.scale"] == "group data/synthetic.yaml"
    assert src["model.name"] == "group model/als.yaml"
    assert src["tune.trials"] == "group tune/default.yaml"
    assert src["data.columns.user"] == "default"  # a DataConfig default no YAML of data=synthetic sets
    assert any(k.startswith("tune.space.") and v.startswith("group tune/als.yaml") for k, v in src.items())
    e = _by_key(explain(["experiment=ml100k_recbole", "model.meta_trials=5"]))
    assert e["split.seed"].source == "experiment ml100k_recbole.yaml" and e["split.seed"].value == 2020
    assert e["model.name"].note == "chosen by experiment/ml100k_recbole.yaml"
    assert e["model.meta_trials"].source == "override model.meta_trials=5" and e["model.meta_trials"].value == 5
    assert e["model.mode"].source == "group model/hybrid_ml100k_recbole.yaml"
    assert e["tune.components.ease.space.l2.low"].source == "group tune/ease.yaml"


def test_params_file_sources(tmp_path: Path) -> None:
    path = tmp_path / "params.yaml"
    path.write_text(composed_yaml(["data.scale=tiny"]))
    entries = _by_key(explain(["model.factors=8"], params_file=path))
    assert entries["data.scale"].source == "params.yaml" and entries["data.scale"].value == "tiny"
    assert entries["model.factors"].source == "override model.factors=8" and entries["model.factors"].value == 8
    assert entries["data.columns.user"].source == "default"  # not in the composed file: filled at load


def test_format_value_is_one_line_of_yaml() -> None:
    assert [format_value(v) for v in (None, True, 0.05, "als", [5, 10], {"a": 1})] == [
        "null", "true", "0.05", "als", "[5, 10]", "{a: 1}"
    ]


def test_cli_explain_prints_a_table() -> None:
    result = runner.invoke(app, ["config", "--explain", "model=bpr", "data.scale=tiny"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    lines = {line.split("│")[1].strip(): line for line in result.output.splitlines() if line.count("│") >= 4}
    assert "override data.scale=tiny" in lines["data.scale"]
    assert "group model/bpr.yaml" in lines["model.learning_rate"]
    assert "default" in lines["data.columns.user"]
    assert "config.yaml" in lines["seed"]


def test_cli_explain_with_out_is_refused(tmp_path: Path) -> None:
    result = runner.invoke(app, ["config", "--explain", "--out", str(tmp_path / "p.yaml")])
    assert result.exit_code == 2
    assert "--explain" in result.output


def test_out_writes_exactly_what_dvc_composes(tmp_path: Path) -> None:
    """`recsys config --out` and `dvc exp run -S` must write the same params, or DVC re-runs stages."""
    pytest.importorskip("dvc")
    from dvc.utils.hydra import compose_and_dump

    for overrides in ([], ["model=bpr", "data.scale=tiny"], ["experiment=tiny", "model=hybrid"]):
        ours, theirs = tmp_path / "ours.yaml", tmp_path / "theirs.yaml"
        result = runner.invoke(app, ["config", "--out", str(ours), *overrides])
        assert result.exit_code == 0, result.output
        compose_and_dump(theirs, str(config.conf_dir()), None, "config", str(tmp_path), overrides)
        assert ours.read_text() == theirs.read_text(), overrides
        # and the composed file loads to the same validated config as composing conf/ directly
        assert config.load(params_file=theirs) == config.load(overrides)
        assert "experiment" not in yaml.safe_load(theirs.read_text())
