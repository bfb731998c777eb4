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


def test_sources_of_the_default_composition(default_entries: dict[str, Entry]) -> None:
    src = {k: e.source for k, e in default_entries.items()}
    assert src["seed"] == "config.yaml"  # conf/config.yaml sets it
    assert src["recommend.k"] == "config.yaml"
    assert src["data.scale"] == "group data/synthetic.yaml"
    assert src["split.method"] == "group split/temporal.yaml"
    assert src["model.factors"] == "group model/als.yaml"
    assert src["tune.trials"] == "group tune/default.yaml"
    assert src["tune.space.factors.low"] == "group tune/als.yaml"  # composed into tune.space by `tune@tune.space: ${model}`
    assert src["tune.space.iterations.log"] == "default"  # ParamSpace default, not in tune/als.yaml
    assert src["data.columns.user"] == "default"  # a DataConfig default no YAML of data=synthetic sets
    assert src["tracking.enabled"] == "group tracking/local.yaml"
    assert default_entries["tune.space.factors.low"].value == 16.0  # the validated value


def test_experiment_group_choice_and_override_sources() -> None:
    entries = _by_key(explain(["experiment=ml100k_recbole", "model.l2=5", "eval.k=[3,7]", "tune=default"]))
    assert entries["split.seed"].source == "experiment ml100k_recbole.yaml"
    assert entries["split.seed"].value == 2020
    # the experiment swaps groups (override /model: ease): the group file is the source, the note says who chose it
    assert entries["model.binary"].source == "group model/ease.yaml"
    assert entries["model.binary"].note == "chosen by experiment/ml100k_recbole.yaml"
    assert entries["tune.space.l2.high"].source == "group tune/ease.yaml"
    assert entries["model.l2"].source == "override model.l2=5" and entries["model.l2"].value == 5.0
    assert entries["eval.k"].source == "override eval.k=[3,7]" and entries["eval.k"].value == [3, 7]
    # the experiment sets eval.metric; the eval group sets eval.batch_size; the experiment wins where both set
    assert entries["eval.metric"].source == "experiment ml100k_recbole.yaml"
    assert entries["eval.batch_size"].source == "group eval/default.yaml"
    assert entries["data.seed"].source == "default"  # data/movielens.yaml has no seed


def test_group_chosen_on_the_command_line_and_model_param_defaults() -> None:
    entries = _by_key(explain(["model=popularity"]))
    assert entries["model.name"].source == "group model/popularity.yaml"
    assert entries["model.name"].note == "chosen by override model=popularity"
    # every field of the model's Params is listed, set in YAML or not
    from recsys_cli.models import model_class
    from recsys_cli.schema import to_dict

    for field, value in to_dict(model_class("popularity").Params()).items():
        assert f"model.{field}" in entries
    # an override that adds a key (+) is an override
    entries = _by_key(explain(["+tune.space.half_life_days={type: float, low: 1, high: 30}", "model=popularity"]))
    assert entries["tune.space.half_life_days.high"].source.startswith("override +tune.space.half_life_days=")
    assert entries["tune.space.half_life_days.log"].source == "default"


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
