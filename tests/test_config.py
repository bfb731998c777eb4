"""Config: composition, overrides, validation errors, params.yaml round trip."""

from __future__ import annotations

from pathlib import Path

import pytest

from recsys_cli import config, models
from recsys_cli.errors import ConfigError


def test_default_composition_is_typed() -> None:
    cfg = config.load()
    assert cfg.data.source == "synthetic" and cfg.data.scale == "small"
    assert cfg.model.name == "als" and isinstance(cfg.model.params["factors"], int)
    assert cfg.split.method == "temporal"
    assert cfg.eval.k == [5, 10, 20]


def test_group_and_value_overrides() -> None:
    cfg = config.load(["model=popularity", "model.by=weight", "data.scale=tiny", "eval.k=[3,7]"])
    assert cfg.model.name == "popularity" and cfg.model.params["by"] == "weight"
    assert cfg.data.scale == "tiny" and cfg.eval.k == [3, 7]


def test_experiment_file_sets_a_protocol() -> None:
    cfg = config.load(["experiment=ml100k_temporal", "data.path=/somewhere"])
    assert cfg.data.source == "movielens" and cfg.data.path == "/somewhere"


@pytest.mark.parametrize(
    ("override", "needle"),
    [
        (["model.factorz=3"], "model.factorz: unknown key; allowed: alpha, factors, iterations, name, num_threads, regularization, use_cg"),
        (["+data.colour=red"], "data.colour: unknown key; allowed:"),
        (["model=nosuch"], "model: unknown choice 'nosuch'; choose one of: als, bpr, ease,"),
        (["split.method=random"], "split.method: 'random' is not allowed; choose one of: temporal, leave_last"),
        (["split.valid_frac=lots"], "split.valid_frac: expected a number, got 'lots'"),
        (["data.preprocess.min_user_interactions=0"], "data.preprocess.min_user_interactions: must be >= 1, got 0"),
        (["eval.k=[5,x]"], "eval.k[1]: expected an integer"),
    ],
)
def test_bad_config_names_the_key(override: list[str], needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        cfg = config.load(override)
        models.check_config(cfg)
    assert needle in str(info.value)
    assert "\n" not in str(info.value)
    assert info.value.exit_code == 2


def test_model_params_are_checked_by_the_model() -> None:
    cfg = config.load(["model.factors=-3"])
    with pytest.raises(ConfigError, match=r"model.factors: must be >= 1, got -3"):
        models.check_config(cfg)


def test_tune_space_must_name_real_params() -> None:
    cfg = config.load(["+tune.space.factorz={type: int, low: 1, high: 3}"])
    with pytest.raises(ConfigError, match=r"tune.space.factorz \(conf/tune/als.yaml\): als has no param 'factorz'"):
        models.check_config(cfg)


def test_params_file_round_trip(tmp_path: Path) -> None:
    cfg = config.load(["model.factors=32", "data.scale=tiny"])
    path = tmp_path / "params.yaml"
    path.write_text(cfg.to_yaml())
    again = config.load(params_file=path)
    assert again == cfg
    tweaked = config.load(["model.factors=8"], params_file=path)
    assert tweaked.model.params["factors"] == 8


def test_params_file_rejects_group_overrides(tmp_path: Path) -> None:
    path = tmp_path / "params.yaml"
    path.write_text(config.load().to_yaml())
    with pytest.raises(ConfigError, match="only plain key=value"):
        config.load(["model=popularity"], params_file=path)


def test_mapping_override_replaces_the_mapping() -> None:
    """``key={...}`` replaces a mapping, as Hydra users expect (Hydra alone merges, and fails on new keys)."""
    cfg = config.load(["data=events", "data.preprocess.event_weights={pv:1,cart:3,buy:5}"])
    assert cfg.data.preprocess.event_weights == {"pv": 1.0, "cart": 3.0, "buy": 5.0}
    cfg = config.load(["data=events", "data.columns={user: CustomerID, item: StockCode}"])
    assert (cfg.data.columns.user, cfg.data.columns.item) == ("CustomerID", "StockCode")
    assert cfg.data.columns.timestamp == "timestamp"  # keys the new mapping leaves out: schema defaults


def test_new_key_in_a_free_form_mapping_needs_no_plus() -> None:
    cfg = config.load(["data=events", "data.preprocess.event_weights={pv:1}", "data.preprocess.event_weights.fav=2"])
    assert cfg.data.preprocess.event_weights == {"pv": 1.0, "fav": 2.0}
    cfg = config.load(["data=events", "data.event_map.pv=view"])
    assert cfg.data.event_map == {"pv": "view"}


@pytest.mark.parametrize(
    ("override", "needle"),
    [
        ("data.columnz={a: 1}", "data.columnz: unknown key; allowed: category_separator, chunk_rows, columns,"),
        ("data.preprocess.event_weights={pv: lots}", "data.preprocess.event_weights.pv: expected a number, got 'lots'"),
        ("data.columns={user: a, shopper: b}", "data.columns.shopper: unknown key; allowed:"),
    ],
)
def test_mapping_override_errors_name_the_key(override: str, needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        config.load(["data=events", override])
    assert needle in str(info.value) and "\n" not in str(info.value)
