"""The explicit-rating models built on scikit-surprise: svd, svdpp, knnbaseline.

Besides the shared contract (on a checkerboard with real ratings), the
independent reference: surprise itself. Each model's vectorised ``predict``
must equal ``algo.predict(uid, iid).est`` of a surprise algorithm fit on the
same ratings loaded through surprise's own file reader (string raw ids), for
known and unknown users and items, to 1e-9.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
import yaml

from recsys_cli.errors import ConfigError
from recsys_cli.evaluation.rating import kfold, rmse_mae
from recsys_cli.models import surprise_base as sb
from recsys_cli.models.base import TrainData
from recsys_cli.models.knnbaseline import KNNBaseline, KNNBaselineParams
from recsys_cli.models.svd import SVD, SVDParams
from recsys_cli.models.svdpp import SVDpp, SVDppParams
from recsys_cli.schema import from_dict, to_dict
from tests.models.contract import N_ITEMS, N_USERS, RecommenderContract, checkerboard

CONF = Path(__file__).resolve().parents[2] / "conf" / "model"


def rated_checkerboard(seed: int = 0) -> TrainData:
    """The contract's checkerboard with ratings: 5 for own-group items, 1 for three other-group items."""
    train, _ = checkerboard(seed)
    rng = np.random.default_rng(seed + 1)
    coo = train.tocoo()
    rows, cols, vals = coo.row.tolist(), coo.col.tolist(), [5.0] * coo.nnz
    for u in range(N_USERS):
        other = np.arange(1 - u // (N_USERS // 2), N_ITEMS, 2)
        for i in rng.choice(other, 3, replace=False):
            rows.append(u)
            cols.append(int(i))
            vals.append(1.0)
    ratings = sp.csr_matrix((np.array(vals, dtype=np.float32), (rows, cols)), shape=(N_USERS, N_ITEMS))
    events = ratings.copy()
    events.data[:] = 1.0
    return TrainData(matrix=events, ratings=ratings, seed=7)


class RatingContract(RecommenderContract):
    @pytest.fixture(scope="class")
    def data(self) -> TrainData:
        return rated_checkerboard()


class TestSVDContract(RatingContract):
    def make(self) -> SVD:
        return SVD(SVDParams(n_factors=8, n_epochs=60, lr_all=0.02))


class TestSVDppContract(RatingContract):
    def make(self) -> SVDpp:
        return SVDpp(SVDppParams(n_factors=8, n_epochs=40, lr_all=0.02))


class TestKNNBaselineUserContract(RatingContract):
    def make(self) -> KNNBaseline:
        return KNNBaseline(KNNBaselineParams(k=10))


class TestKNNBaselineItemContract(RatingContract):
    def make(self) -> KNNBaseline:
        return KNNBaseline(KNNBaselineParams(k=10, user_based=False, sim_name="pearson_baseline", shrinkage=5))


# ------------------------------------------------------------- the reference: surprise itself


def random_ratings(seed: int, n_users: int = 50, n_items: int = 40, levels: int = 5, density: float = 0.3) -> TrainData:
    """Random integer ratings; the last users and items have none (unknown to the model)."""
    rng = np.random.default_rng(seed)
    mask = rng.random((n_users, n_items)) < density
    mask[-5:, :] = False
    mask[:, -4:] = False
    values = rng.integers(1, levels + 1, size=(n_users, n_items)).astype(np.float32)
    ratings = sp.csr_matrix(np.where(mask, values, 0.0))
    events = ratings.copy()
    events.data[:] = 1.0
    return TrainData(matrix=events, ratings=ratings, seed=seed + 11)


def surprise_reference(model, ratings: sb.Ratings, seed: int, tmp_path: Path):  # noqa: ANN001, ANN201
    """The same surprise algorithm fit on the same ratings, loaded by surprise's own file reader."""
    from surprise import Dataset, Reader

    coo = ratings.matrix.tocoo()  # user by user, items ascending: the order our trainset uses too
    path = tmp_path / "ratings.csv"
    path.write_text("".join(f"{u},{i},{r!r}\n" for u, i, r in zip(coo.row, coo.col, coo.data.tolist(), strict=True)))
    reader = Reader(line_format="user item rating", sep=",", rating_scale=ratings.scale)
    trainset = Dataset.load_from_file(str(path), reader).build_full_trainset()
    return model.algo(seed).fit(trainset)


def reference_predictions(algo, n_users: int, n_items: int, clip: bool = True) -> np.ndarray:  # noqa: ANN001
    return np.array(
        [[algo.predict(str(u), str(i), clip=clip).est for i in range(n_items)] for u in range(n_users)]
    )


CASES = {
    "svd": lambda: SVD(SVDParams(n_factors=10, n_epochs=15)),
    "svd-unbiased": lambda: SVD(SVDParams(n_factors=10, n_epochs=15, biased=False, lr_all=0.01)),
    "svd-per-param-rates": lambda: SVD(SVDParams(n_factors=6, lr_bu=0.02, reg_qi=0.1)),
    "svdpp": lambda: SVDpp(SVDppParams(n_factors=6, n_epochs=10)),
    "knn-user-msd": lambda: KNNBaseline(KNNBaselineParams(k=5)),
    "knn-item-msd": lambda: KNNBaseline(KNNBaselineParams(k=5, user_based=False)),
    "knn-user-pearson-baseline": lambda: KNNBaseline(
        KNNBaselineParams(k=4, min_k=2, sim_name="pearson_baseline", shrinkage=10)
    ),
    "knn-item-pearson-baseline-sgd": lambda: KNNBaseline(
        KNNBaselineParams(k=6, user_based=False, sim_name="pearson_baseline", bsl_method="sgd", bsl_n_epochs=5)
    ),
    "knn-item-cosine-min-k": lambda: KNNBaseline(
        KNNBaselineParams(k=3, min_k=3, user_based=False, sim_name="cosine", min_support=2)
    ),
    "knn-user-pearson": lambda: KNNBaseline(KNNBaselineParams(k=8, sim_name="pearson")),
}


@pytest.mark.parametrize("case", list(CASES))
def test_predict_equals_surprise(case: str, tmp_path: Path) -> None:
    data = random_ratings(seed=len(case))
    model = CASES[case]().fit(data)
    algo = surprise_reference(CASES[case](), sb.ratings_of(data), data.seed, tmp_path)
    users = np.repeat(np.arange(data.n_users), data.n_items)
    items = np.tile(np.arange(data.n_items), data.n_users)
    ours = model.predict(users, items).reshape(data.n_users, data.n_items)
    assert ours.dtype == np.float64
    np.testing.assert_allclose(ours, reference_predictions(algo, data.n_users, data.n_items), rtol=0, atol=1e-9)
    # score is the unclipped estimate (float32, for ranking)
    unclipped = reference_predictions(algo, data.n_users, data.n_items, clip=False)
    np.testing.assert_allclose(model.score(np.arange(data.n_users)), unclipped, rtol=1e-6, atol=1e-5)


@pytest.mark.parametrize("user_based", [True, False])
@pytest.mark.parametrize("sim_name", ["msd", "cosine"])
def test_knn_ties_broken_like_surprise(user_based: bool, sim_name: str, tmp_path: Path) -> None:
    """Ratings 1-3 and small k: many equal similarities at the k-th place; surprise keeps the lower index."""
    for seed in range(3):
        data = random_ratings(seed, n_users=30, n_items=20, levels=3, density=0.4)
        params = KNNBaselineParams(k=2 + seed, min_k=seed, user_based=user_based, sim_name=sim_name)
        model = KNNBaseline(params).fit(data)
        algo = surprise_reference(KNNBaseline(params), sb.ratings_of(data), data.seed, tmp_path)
        users = np.repeat(np.arange(data.n_users), data.n_items)
        items = np.tile(np.arange(data.n_items), data.n_users)
        ours = model.predict(users, items).reshape(data.n_users, data.n_items)
        np.testing.assert_allclose(ours, reference_predictions(algo, data.n_users, data.n_items), rtol=0, atol=1e-9)


def test_unknown_users_and_items_fall_back_like_surprise() -> None:
    data = random_ratings(seed=3)
    model = SVD(SVDParams(n_factors=4, n_epochs=5)).fit(data)
    f = model.factors
    unknown_user, unknown_item, user, item = data.n_users - 1, data.n_items - 1, 0, 0
    assert not f.known_users[unknown_user] and not f.known_items[unknown_item]
    got = model.predict(np.array([unknown_user, unknown_user, user]), np.array([unknown_item, item, unknown_item]))
    np.testing.assert_allclose(got, [f.mu, f.mu + f.bi[item], f.mu + f.bu[user]], atol=1e-12)
    unbiased = SVD(SVDParams(n_factors=4, n_epochs=5, biased=False)).fit(data)
    # surprise: unbiased SVD cannot predict an unknown user or item -> the global mean
    np.testing.assert_allclose(unbiased.predict(np.array([unknown_user, user]), np.array([item, unknown_item])),
                               unbiased.factors.mu)


# ------------------------------------------------------------- scale, pseudo-ratings, save/load


@pytest.mark.parametrize("make", [lambda: SVD(SVDParams(n_factors=4, n_epochs=40, lr_all=0.05)),
                                  lambda: SVDpp(SVDppParams(n_factors=4, n_epochs=40, lr_all=0.05)),
                                  # unregularised baselines and one neighbour: estimates leave the scale
                                  lambda: KNNBaseline(KNNBaselineParams(k=1, user_based=False,
                                                                        bsl_reg_u=0, bsl_reg_i=0))])
def test_predictions_clipped_to_the_data_scale(make) -> None:  # noqa: ANN001
    data = random_ratings(seed=5, levels=3)
    data.ratings.data += 1.0  # ratings 2..4: the scale comes from the data, not a fixed 1-5
    model = make().fit(data)
    users = np.repeat(np.arange(data.n_users), data.n_items)
    items = np.tile(np.arange(data.n_items), data.n_users)
    pred = model.predict(users, items)
    raw = model.score(np.arange(data.n_users)).ravel()
    assert pred.min() >= 2.0 and pred.max() <= 4.0
    assert raw.min() < 2.0 or raw.max() > 4.0  # the clip did something
    np.testing.assert_allclose(pred, np.clip(raw, 2.0, 4.0), atol=1e-5)


@pytest.mark.parametrize("make", [lambda: SVD(SVDParams(n_factors=4)), lambda: SVDpp(SVDppParams(n_factors=4)),
                                  lambda: KNNBaseline(KNNBaselineParams(k=5))])
def test_pseudo_ratings_when_data_has_no_ratings(make) -> None:  # noqa: ANN001
    rng = np.random.default_rng(0)
    weights = sp.random(30, 20, density=0.3, random_state=1, format="csr", dtype=np.float32)
    weights.data = rng.choice([0.5, 1.0, 2.0, 3.5, 8.0, 40.0], size=weights.nnz).astype(np.float32)
    implicit = TrainData(matrix=weights, ratings=None, seed=4)
    ratings = sb.ratings_of(implicit)
    assert ratings.pseudo and ratings.scale == (1.0, 5.0)
    np.testing.assert_array_equal(ratings.matrix.data, np.clip(weights.data, 1, 5))
    as_explicit = TrainData(matrix=weights, ratings=sp.csr_matrix(ratings.matrix), seed=4)
    users = np.repeat(np.arange(30), 20)
    items = np.tile(np.arange(20), 30)
    a, b = make().fit(implicit), make().fit(as_explicit)
    np.testing.assert_array_equal(a.predict(users, items), b.predict(users, items))
    np.testing.assert_array_equal(a.scale, [1.0, 5.0])


@pytest.mark.parametrize("make", [lambda: SVD(SVDParams(n_factors=4)), lambda: SVDpp(SVDppParams(n_factors=4)),
                                  lambda: KNNBaseline(KNNBaselineParams(k=5)),
                                  lambda: KNNBaseline(KNNBaselineParams(k=5, user_based=False))])
def test_save_load_identical_predictions(make, tmp_path: Path) -> None:  # noqa: ANN001
    data = random_ratings(seed=8)
    model = make().fit(data)
    model.save(tmp_path / "m")
    loaded = type(model).load(tmp_path / "m")
    users = np.repeat(np.arange(data.n_users), data.n_items)  # known and unknown users and items
    items = np.tile(np.arange(data.n_items), data.n_users)
    np.testing.assert_array_equal(loaded.predict(users, items), model.predict(users, items))
    probe = np.arange(5)
    np.testing.assert_array_equal(loaded.similar_items(probe, 3).items, model.similar_items(probe, 3).items)
    assert not any(p.suffix in (".pkl", ".pickle") for p in (tmp_path / "m").iterdir())


def test_predict_needs_one_item_per_user() -> None:
    model = SVD(SVDParams(n_factors=2, n_epochs=1)).fit(random_ratings(seed=1))
    with pytest.raises(ValueError, match="one of each"):
        model.predict(np.array([0, 1]), np.array([0]))


# ------------------------------------------------------------- accuracy sanity: a tiny rating CV


def test_svd_beats_the_global_mean_in_cv() -> None:
    """Ratings with real user and item effects and a low-rank taste part: SVD must beat the global mean."""
    rng = np.random.default_rng(0)
    n_users, n_items = 200, 120
    mask = rng.random((n_users, n_items)) < 0.25
    taste = rng.normal(size=(n_users, 3)) @ rng.normal(size=(3, n_items)) * 0.4
    true = 3.5 + rng.normal(0, 0.5, n_users)[:, None] + rng.normal(0, 0.7, n_items)[None, :] + taste
    observed = np.clip(np.round(true + rng.normal(0, 0.5, true.shape)), 1, 5)
    users, items = np.nonzero(mask)
    values = observed[users, items]
    ours, baseline = [], []
    for test_rows in kfold(values.size, 3, seed=0):
        train = np.ones(values.size, dtype=bool)
        train[test_rows] = False
        ratings = sp.csr_matrix((values[train], (users[train], items[train])), shape=(n_users, n_items))
        data = TrainData(matrix=(ratings > 0).astype(np.float32).tocsr(), ratings=ratings, seed=1)
        pred = SVD().fit(data).predict(users[test_rows], items[test_rows])
        ours.append(rmse_mae(pred, values[test_rows])["rmse"])
        baseline.append(rmse_mae(np.full(test_rows.size, values[train].mean()), values[test_rows])["rmse"])
    assert np.mean(ours) < 0.85 * np.mean(baseline)


# ------------------------------------------------------------- params: surprise's defaults, validated


@pytest.mark.parametrize(("params_cls", "surprise_name"), [(SVDParams, "SVD"), (SVDppParams, "SVDpp")])
def test_defaults_are_surprises(params_cls: type, surprise_name: str) -> None:
    import surprise

    signature = inspect.signature(getattr(surprise, surprise_name).__init__)
    ours = to_dict(params_cls())
    for name, value in ours.items():
        assert signature.parameters[name].default == value, name


def test_knnbaseline_defaults_are_surprises() -> None:
    model = KNNBaseline()
    sim, bsl = model.options()
    assert sim == {"name": "msd", "user_based": True, "min_support": 1}  # surprise's sim_options defaults
    assert bsl == {"method": "als", "reg_u": 15.0, "reg_i": 10.0}  # n_epochs left to surprise (als: 10)
    assert (model.params.k, model.params.min_k) == (40, 1)


@pytest.mark.parametrize(("name", "params_cls"), [("svd", SVDParams), ("svdpp", SVDppParams),
                                                  ("knnbaseline", KNNBaselineParams)])
def test_yaml_holds_the_defaults(name: str, params_cls: type) -> None:
    raw = yaml.safe_load((CONF / f"{name}.yaml").read_text())
    assert raw.pop("name") == name
    assert from_dict(params_cls, raw) == params_cls()


@pytest.mark.parametrize(("params_cls", "bad"), [(SVDParams, {"n_factors": 0}), (SVDParams, {"lr_pu": -1.0}),
                                                 (SVDppParams, {"reg_yj": -0.1}),
                                                 (KNNBaselineParams, {"sim_name": "jaccard"}),
                                                 (KNNBaselineParams, {"k": 0})])
def test_bad_params_refused(params_cls: type, bad: dict) -> None:
    with pytest.raises(ConfigError):
        from_dict(params_cls, bad)


def test_knnbaseline_refuses_a_similarity_over_its_memory_budget_at_once() -> None:
    """100,000 shoppers: a user-user similarity of ~160 GB is refused before any work, naming the setting."""
    from recsys_cli.errors import TooLarge
    from recsys_cli.models.base import TrainData
    from recsys_cli.models.knnbaseline import KNNBaseline, KNNBaselineParams

    data = TrainData(matrix=sp.csr_matrix((100_000, 50_000), dtype=np.float32))
    with pytest.raises(TooLarge, match=r"needs about 160\.0 GB, over model\.memory_budget_gb=4; raise it, or set "
                                       r"model\.user_based=false"):
        KNNBaseline(KNNBaselineParams()).fit(data)  # an empty matrix: it would take seconds to get anywhere
