"""The torch models: the shared contract in tiny configs, plus what only they have --
early stopping on valid NDCG@10, refits from ``fitted_params()``, seeding,
Mult-VAE's dependence on the user's row, cold items in the two-tower model,
the Wide & Deep crosses, the conf files and the device switch.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import scipy.sparse as sp
import torch
import yaml

from recsys_cli.errors import ConfigError
from recsys_cli.features.side import SideMatrix
from recsys_cli.features.store import Features
from recsys_cli.models.base import TrainData
from recsys_cli.models.neural.crosses import build_crosses, history, user_context
from recsys_cli.models.neural.loop import resolve_device, valid_score, valid_users
from recsys_cli.models.neural.multvae import MultVAE, MultVAEParams
from recsys_cli.models.neural.neumf import NeuMF, NeuMFParams
from recsys_cli.models.neural.twotower import TwoTower, TwoTowerParams
from recsys_cli.models.neural.widedeep import WideDeep, WideDeepParams
from recsys_cli.schema import from_dict
from tests.models.contract import N_ITEMS, N_USERS, RecommenderContract, checkerboard

CONF = Path(__file__).resolve().parents[2] / "conf" / "model"


def tiny_neumf(**kw) -> NeuMF:
    return NeuMF(NeuMFParams(**{"factors": 8, "mlp_layers": [16, 8], "epochs": 8, "lr": 0.01, "batch_size": 128,
                                "device": "cpu", "num_threads": 1, **kw}))


def tiny_multvae(**kw) -> MultVAE:
    return MultVAE(MultVAEParams(**{"hidden": [32], "latent": 8, "epochs": 30, "lr": 0.01, "batch_size": 8,
                                    "total_anneal_steps": 50, "device": "cpu", "num_threads": 1, **kw}))


def tiny_widedeep(**kw) -> WideDeep:
    return WideDeep(WideDeepParams(**{"factors": 8, "layers": [16], "epochs": 8, "lr": 0.01, "batch_size": 128,
                                      "buckets": 1024, "device": "cpu", "num_threads": 1, **kw}))


def tiny_twotower(**kw) -> TwoTower:
    return TwoTower(TwoTowerParams(**{"factors": 16, "layers": [], "epochs": 15, "lr": 0.01, "batch_size": 64,
                                      "device": "cpu", "num_threads": 1, **kw}))


TINY = {"neumf": tiny_neumf, "multvae": tiny_multvae, "widedeep": tiny_widedeep, "twotower": tiny_twotower}


def side(names: list[str], codes: np.ndarray) -> SideMatrix:
    rows = np.arange(codes.size)
    m = sp.csr_matrix((np.ones(codes.size, dtype=np.float32), (rows, codes)), shape=(codes.size, len(names)))
    return SideMatrix(m, np.array(names, dtype=str))


def noise_features(seed: int = 0) -> Features:
    """Side features and text that say nothing about the two groups (random values).

    With them the checkerboard still has to be learned from interactions, while
    the feature paths (projections, crosses, TF-IDF) all run.
    """
    rng = np.random.default_rng(seed)
    tfidf = sp.random(N_ITEMS, 6, density=0.4, format="csr", dtype=np.float32, random_state=seed)
    return Features(
        tfidf=tfidf, vocabulary=np.array([f"w{j}" for j in range(6)]), items=pl.DataFrame(), users=pl.DataFrame(),
        item_side=side(["top=A", "top=B", "top=C"], rng.integers(0, 3, N_ITEMS)),
        user_side=side(["age_band=young", "age_band=old"], rng.integers(0, 2, N_USERS)),
    )


def with_valid(seed: int = 0, data_seed: int = 3) -> TrainData:
    train, held = checkerboard(seed)
    return TrainData(matrix=train, valid=held, seed=data_seed)


# --------------------------------------------------------------------------- contract


class TestNeuMF(RecommenderContract):
    def make(self) -> NeuMF:
        return tiny_neumf()


class TestMultVAE(RecommenderContract):
    def make(self) -> MultVAE:
        return tiny_multvae()


class TestMultDAE(RecommenderContract):
    def make(self) -> MultVAE:
        return tiny_multvae(variant="dae")


class TestWideDeepIdsOnly(RecommenderContract):
    def make(self) -> WideDeep:
        return tiny_widedeep()


class TestWideDeepFeatures(RecommenderContract):
    @pytest.fixture(scope="class")
    def data(self) -> TrainData:
        train, _ = checkerboard()
        return TrainData(matrix=train, features=noise_features(), seed=7)

    def make(self) -> WideDeep:
        return tiny_widedeep()


class TestTwoTower(RecommenderContract):
    @pytest.fixture(scope="class")
    def data(self) -> TrainData:
        train, _ = checkerboard()
        return TrainData(matrix=train, features=noise_features(), seed=7)

    def make(self) -> TwoTower:
        return tiny_twotower()


class TestTwoTowerIdsOnly(RecommenderContract):
    def make(self) -> TwoTower:
        return tiny_twotower()


# --------------------------------------------------------------------------- the shared loop


def test_early_stopping_keeps_the_best_epoch() -> None:
    data = with_valid()
    model = tiny_neumf(epochs=12, lr=0.05, patience=20).fit(data)  # patience > epochs: every epoch recorded
    hist = model.history
    assert hist.epochs == 12 and len(hist.valid) == 12
    assert hist.best_epoch == int(np.argmax(hist.valid)) + 1  # first of equal bests
    assert hist.best_epoch < hist.epochs  # (this config overfits: the last epoch is not the best)
    assert model.fitted_params().epochs == hist.best_epoch
    assert model.fitted_params().patience is None
    # the weights kept are the best epoch's, not the last one's
    assert valid_score(model, data, valid_users(data)) == pytest.approx(max(hist.valid), abs=1e-12)


def test_patience_stops_training() -> None:
    data = with_valid()
    model = tiny_neumf(epochs=40, lr=0.05, patience=2).fit(data)
    hist = model.history
    assert hist.epochs == min(40, hist.best_epoch + 2)
    assert max(hist.valid[hist.best_epoch:], default=-1.0) <= hist.valid[hist.best_epoch - 1]


@pytest.mark.parametrize("name", sorted(TINY))
def test_refit_runs_exactly_the_fitted_epochs(name: str) -> None:
    data = with_valid()
    first = TINY[name](epochs=6, patience=2).fit(data)
    params = first.fitted_params()
    assert params.epochs == first.history.best_epoch and 1 <= params.epochs <= 6
    refit = type(first)(params).fit(data.without_valid())
    assert refit.history.epochs == params.epochs
    assert refit.history.valid == []


@pytest.mark.parametrize("name", sorted(TINY))
def test_seed_changes_scores(name: str) -> None:
    train, _ = checkerboard()
    users = np.arange(N_USERS)
    a = TINY[name](epochs=2).fit(TrainData(matrix=train, seed=1)).score(users)
    b = TINY[name](epochs=2).fit(TrainData(matrix=train, seed=1)).score(users)
    c = TINY[name](epochs=2).fit(TrainData(matrix=train, seed=2)).score(users)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_fit_shows_progress_and_restores_torch_settings() -> None:
    threads = torch.get_num_threads()
    deterministic = torch.are_deterministic_algorithms_enabled()
    state = torch.random.get_rng_state()
    train, _ = checkerboard()
    model = tiny_neumf(epochs=1, num_threads=1)
    model.show_progress = True  # as the train stage sets it (the bar hides itself off a terminal)
    model.fit(TrainData(matrix=train))
    assert torch.get_num_threads() == threads
    assert torch.are_deterministic_algorithms_enabled() == deterministic
    assert torch.equal(torch.random.get_rng_state(), state)


def test_device_switch() -> None:
    assert resolve_device("cpu").type == "cpu"
    if torch.cuda.is_available():
        assert resolve_device("auto").type == "cuda"
    else:
        assert resolve_device("auto").type == "cpu"
        with pytest.raises(ConfigError, match="cuda"):
            resolve_device("cuda")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_fit_saves_cpu_artifacts(tmp_path: Path) -> None:
    train, _ = checkerboard()
    users = np.arange(N_USERS)
    for name, make in TINY.items():
        model = make(device="cuda", epochs=2).fit(TrainData(matrix=train, features=noise_features(), seed=7))
        model.save(tmp_path / name)
        loaded = type(model).load(tmp_path / name)  # loads on the CPU
        np.testing.assert_allclose(loaded.score(users), model.score(users), rtol=1e-4, atol=1e-4)


# --------------------------------------------------------------------------- Mult-VAE


def skewed(seed: int = 0) -> sp.csr_matrix:
    """Items 0 and 1 are liked by nearly everyone; the last two users have no items."""
    rng = np.random.default_rng(seed)
    dense = (rng.random((30, 12)) < 0.2).astype(np.float32)
    dense[:, :2] = rng.random((30, 2)) < 0.9
    dense[-2:] = 0.0
    return sp.csr_matrix(dense)


@pytest.mark.parametrize("variant", ["vae", "dae"])
def test_multvae_empty_row_gets_the_popular_prior(variant: str) -> None:
    m = skewed()
    model = tiny_multvae(variant=variant, epochs=40).fit(TrainData(matrix=m, seed=1))
    scores = model.score(np.array([28, 29]))
    assert np.isfinite(scores).all()
    np.testing.assert_array_equal(scores[0], scores[1])  # nothing known: one answer
    assert set(model.recommend(np.array([28]), 2).items[0].tolist()) == {0, 1}


def test_multvae_scores_come_from_the_row(tmp_path: Path) -> None:
    train, _ = checkerboard()
    model = tiny_multvae().fit(TrainData(matrix=train, seed=7))
    # a user is their row: editing it changes the scores; the saved model keeps the rows
    before = model.score(np.array([0]))
    model.rows = sp.csr_matrix(model.rows.toarray()[[21] + list(range(1, N_USERS))])
    after = model.score(np.array([0]))
    assert not np.allclose(before, after)
    np.testing.assert_array_equal(after[0], model.score(np.array([21]))[0])
    model.save(tmp_path / "m")
    np.testing.assert_array_equal(MultVAE.load(tmp_path / "m").score(np.array([0])), after)


# --------------------------------------------------------------------------- two-tower


def test_twotower_cold_item_scored_from_its_features() -> None:
    train, _ = checkerboard()
    cold = np.array([N_ITEMS - 2, N_ITEMS - 1])  # an even and an odd item with no interactions
    dense = train.toarray()
    dense[:, cold] = 0.0
    parity = side(["group=even", "group=odd"], np.arange(N_ITEMS) % 2)
    feats = dataclasses.replace(noise_features(), item_side=parity, tfidf=sp.csr_matrix((N_ITEMS, 0), dtype=np.float32))
    model = tiny_twotower(epochs=20).fit(TrainData(matrix=sp.csr_matrix(dense), features=feats, seed=7))
    scores = model.score(np.arange(N_USERS), cold)
    assert np.ptp(scores[:, 0]) > 0.1  # not a constant for everyone
    group = np.arange(N_USERS) // (N_USERS // 2)
    prefers_even = scores[:, 0] > scores[:, 1]
    assert np.mean(prefers_even == (group == 0)) >= 0.9  # each group prefers the cold item of its parity


# --------------------------------------------------------------------------- Wide & Deep inputs


def test_crosses_from_features_and_ids_only() -> None:
    feats = noise_features()
    with_features = build_crosses(feats.user_side, feats.item_side, N_USERS, N_ITEMS)
    assert with_features.names == ["age_bandxtop"]
    assert with_features.cells == 3 * 4  # (2 values + unknown) x (3 values + unknown)
    empty = SideMatrix(sp.csr_matrix((N_USERS, 0), dtype=np.float32), np.array([], dtype=str))
    ctx = user_context(pl.DataFrame({
        "user_idx": [0, 0, 0, 1], "item_idx": [0, 1, 2, 3],
        "timestamp": pl.Series(["2025-01-01 09:00", "2025-01-02 10:30", "2025-01-02 21:00", "2025-01-03 23:59"]).str.to_datetime(),
        "device": ["mobile", "mobile", "desktop", "tablet"],
    }), N_USERS)
    assert "hour=08-12" in ctx.names.tolist() and "device=mobile" in ctx.names.tolist()
    row0 = ctx.names[ctx.matrix[0].indices].tolist()
    assert row0 == ["hour=08-12", "device=mobile"]
    assert ctx.matrix[5].nnz == 0  # no events: no context
    ids_only = build_crosses(ctx, SideMatrix(sp.csr_matrix((N_ITEMS, 0), dtype=np.float32), np.array([], dtype=str)),
                             N_USERS, N_ITEMS)
    assert ids_only.names == ["hourxitem", "devicexitem"]
    assert build_crosses(empty, feats.item_side, N_USERS, N_ITEMS).names == []


def test_history_is_heaviest_items_first() -> None:
    m = sp.csr_matrix(np.array([[0, 2, 1, 2], [0, 0, 0, 0], [5, 0, 0, 1.0]], dtype=np.float32))
    np.testing.assert_array_equal(history(m, 2), [[1, 3], [-1, -1], [0, 3]])


def test_widedeep_uses_context_and_feature_crosses() -> None:
    train, _ = checkerboard()
    u, i = train.nonzero()
    events = pl.DataFrame({"user_idx": u, "item_idx": i,
                           "timestamp": pl.datetime_range(pl.datetime(2025, 1, 1), pl.datetime(2025, 1, 1) + pl.duration(hours=len(u) - 1), "1h", eager=True)})
    model = tiny_widedeep(epochs=1).fit(TrainData(matrix=train, events=events, features=noise_features(), seed=7))
    assert model.crosses == ["age_bandxtop", "hourxtop", "hourxitem"]


# --------------------------------------------------------------------------- conf files


@pytest.mark.parametrize("cls", [NeuMF, MultVAE, WideDeep, TwoTower])
def test_conf_lists_every_param_with_its_default(cls: type) -> None:
    conf = yaml.safe_load((CONF / f"{cls.name}.yaml").read_text())
    assert conf.pop("name") == cls.name
    assert set(conf) == {f.name for f in dataclasses.fields(cls.Params)}
    assert from_dict(cls.Params, conf) == cls.Params()
