"""The synthetic shop's response model, checked against the generator's own mechanics."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from recsys_cli.data.sources.synthetic import calendar, generate, truth
from recsys_cli.data.sources.synthetic.events import CANDIDATES, CHECKOUT, STAY_ON_DEVICE, _sample_rows
from recsys_cli.data.sources.synthetic.truth import ResponseModel

SCALE, SEED = "tiny", 42


@pytest.fixture(scope="module")
def model() -> ResponseModel:
    return ResponseModel.from_config(SCALE, SEED)


@pytest.fixture(scope="module")
def events() -> pl.DataFrame:
    return generate(SCALE, SEED, show_progress=False).events


def simulate(
    model: ResponseModel, rng: np.random.Generator, user: int, item: int, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` exposures of ``item`` to ``user``, played with the generator's own primitives.

    A slot's category is drawn as the generator draws it; when it is the
    item's, the item takes one of the ``CANDIDATES`` places, the generator
    draws the others, and the shopper views the best by utility + Gumbel
    noise. Independently, the buying chain: a buying session (device drawn as
    the generator draws it), the cart, the checkout.
    """
    sim, cat, sh = model.sim, model.world.catalog, model.world.shoppers
    users = np.full(n, user)
    leaf = sim.slot_leaves(rng, users, _sample_rows(sh.leaf_cdf[users], rng.random(n)))
    hit = np.flatnonzero(leaf == cat.leaf[item])
    cand = np.concatenate([np.full((hit.size, 1), item), sim.candidates(rng, leaf[hit], CANDIDATES - 1)], axis=1)
    utility = sim.utility(cat.vec[cand] @ sh.taste[user], cand, sh.price_pref[user], model.day)
    gumbel = -np.log(-np.log(rng.random(utility.shape)))
    clicked = np.zeros(n, dtype=bool)
    clicked[hit] = np.argmax(utility + gumbel, axis=1) == 0
    device = np.where(rng.random(n) < STAY_ON_DEVICE, sh.device[user], rng.integers(0, 3, n))
    buying = rng.random(n) < sim.buy_prob(users, device)
    affinity = np.full(n, cat.vec[item] @ sh.taste[user], dtype=np.float32)
    carted = rng.random(n) < sim.cart_prob(affinity, np.full(n, item))
    return clicked, buying & carted & (rng.random(n) < CHECKOUT)


def z_score(hits: np.ndarray, p: float) -> float:
    return float((hits.mean() - p) / math.sqrt(p * (1 - p) / hits.size))


# ------------------------------------------------------- the generator's mechanics


def test_click_and_purchase_rates_match_monte_carlo_of_the_generator(model: ResponseModel) -> None:
    rng = np.random.default_rng(0)
    users = rng.choice(model.n_users, 5, replace=False)
    dense = model.expected_catalog([model.user_ids[u] for u in users])
    n = 100_000
    z_click, z_buy, z_chain = [], [], []
    for r, user in enumerate(users):
        order = np.argsort(-dense["click_prob"][r], kind="stable")
        for item in order[[0, 5, 40]]:  # a favourite, a good and an ordinary product
            clicked, bought = simulate(model, rng, int(user), int(item), n)
            click, purchase = dense["click_prob"][r, item], dense["purchase_prob"][r, item]
            z_click.append(z_score(clicked, click))
            z_buy.append(z_score(bought, purchase / click))  # buying given a click (independent of it)
            z_chain.append(z_score(clicked & bought, purchase))
    for z in (z_click, z_buy, z_chain):
        assert max(abs(v) for v in z) < 4.5, z
        assert abs(sum(z) / math.sqrt(len(z))) < 4.0, z  # no bias shared by the pairs


def test_quadrature_equals_the_direct_integral_over_the_competitors(model: ResponseModel) -> None:
    """E[a/(a+S)] = a int exp(-a t) phi(t)^23 dt, done directly on every product of the category."""
    sim, cat, sh = model.sim, model.world.catalog, model.world.shoppers
    users = np.array([3, 177, 512])
    dense = model.expected_catalog([model.user_ids[u] for u in users])
    q = sim.slot_leaf_probs(users)
    log_t = np.arange(-40.0, 40.0, 0.01)
    t = np.exp(log_t)
    for r, user in enumerate(users):
        a = np.exp(sim.utility(cat.vec @ sh.taste[user], np.arange(cat.n), sh.price_pref[user], model.day))
        for leaf in (0, 7, 21):
            items = np.flatnonzero(cat.leaf == leaf)
            pi = np.exp(0.8 * cat.log_pop[items].astype(np.float64))
            g = (np.exp(-t[:, None] * a[items][None, :]) @ (pi / pi.sum())) ** (CANDIDATES - 1)
            for j in items:
                win = np.trapezoid(a[j] * t * np.exp(-a[j] * t) * g, log_t)
                assert dense["click_prob"][r, j] == pytest.approx(q[r, leaf] * win, rel=2e-3)


def test_bought_items_have_a_much_higher_expected_purchase_than_random_items(
    model: ResponseModel, events: pl.DataFrame
) -> None:
    bought = events.filter(pl.col("event") == "purchase").select("user_id", "item_id").unique()
    dense = model.expected_catalog(model.user_ids)
    users = model.user_index(bought["user_id"])
    items = model.item_index(np.asarray(bought["item_id"], dtype=object)[:, None])[:, 0]
    p_bought = dense["purchase_prob"][users, items]
    p_random = dense["purchase_prob"].mean(axis=1)[users]
    assert p_bought.mean() > 5 * p_random.mean()
    assert (p_bought > p_random).mean() > 0.75


def test_purchases_and_revenue_follow_clicks(model: ResponseModel) -> None:
    dense = model.expected_catalog(model.user_ids[:50])
    click, purchase, revenue = dense["click_prob"], dense["purchase_prob"], dense["revenue"]
    assert (click >= 0).all() and (click <= 1).all()
    assert (purchase <= click).all() and (purchase > 0).all()
    np.testing.assert_allclose(revenue, purchase * model.world.catalog.price[None, :].astype(np.float64))


def test_products_not_launched_on_the_day_are_never_clicked() -> None:
    early = ResponseModel.from_config(SCALE, SEED, day=0.0)
    launch = early.world.catalog.launch_day
    click = early.expected_catalog(early.user_ids[:20])["click_prob"]
    assert (click[:, launch > 0] == 0).all()
    assert (click[:, launch <= 0] > 0).all()
    assert ResponseModel.from_config(SCALE, SEED).day == calendar.N_DAYS


# ------------------------------------------------------------------ batching


def test_expected_matches_the_dense_catalog_and_does_not_depend_on_batching(
    model: ResponseModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(1)
    users = [model.user_ids[u] for u in rng.choice(model.n_users, 40, replace=False)]
    cols = rng.integers(0, model.n_items, (40, 10))
    lists = np.asarray(model.item_ids, dtype=object)[cols]
    dense = model.expected_catalog(users)
    got = model.expected(users, lists)
    for key in truth.OUTPUTS:
        np.testing.assert_allclose(got[key], np.take_along_axis(dense[key], cols, axis=1), rtol=1e-12)
    means = model.catalog_mean(users)
    for key in truth.OUTPUTS:
        np.testing.assert_allclose(means[key], dense[key].mean(axis=1), rtol=1e-12)
    monkeypatch.setattr(truth, "CHUNK_CELLS", 3 * model.n_items)  # 3 users at a time
    small = model.respond(users, [lists], catalog_mean=True)
    for key in truth.OUTPUTS:
        np.testing.assert_allclose(small[0][0][key], got[key], rtol=1e-6)
        np.testing.assert_allclose(small[1][key], means[key], rtol=1e-6)


def test_from_config_rebuilds_the_same_world() -> None:
    a = ResponseModel.from_config(SCALE, SEED)
    b = ResponseModel(truth.build_world(SCALE, SEED))
    users, lists = a.user_ids[:5], [a.item_ids[:4]] * 5
    np.testing.assert_array_equal(a.expected(users, lists)["click_prob"], b.expected(users, lists)["click_prob"])
    assert a is ResponseModel.from_config(SCALE, SEED)  # cached
    other = ResponseModel.from_config(SCALE, SEED + 1)
    assert not np.array_equal(other.expected(users, lists)["click_prob"], a.expected(users, lists)["click_prob"])


# ---------------------------------------------------------- padding and ids


def test_padding_gives_zero_and_is_not_shown(model: ResponseModel) -> None:
    users = model.user_ids[:3]
    padded = [["p000001", None, "p000002"], [float("nan"), "p000003"], [""]]
    got = model.expected(users, padded)
    assert got["shown"].tolist() == [[True, False, True], [False, True, False], [False, False, False]]
    for key in truth.OUTPUTS:
        assert (got[key][~got["shown"]] == 0).all()
    plain = model.expected(users, np.array([["p000001", "p000002"], ["p000003", "p000003"], ["p000000", "p000000"]]))
    assert got["click_prob"][0, 2] == plain["click_prob"][0, 1]
    assert got["click_prob"][1, 1] == plain["click_prob"][1, 0]


def test_unknown_ids_raise(model: ResponseModel) -> None:
    with pytest.raises(ValueError, match="user id"):
        model.expected(["u000000", "u999999"], [["p000001"], ["p000001"]])
    with pytest.raises(ValueError, match="user id"):
        model.expected([7], [["p000001"]])
    with pytest.raises(ValueError, match="item id"):
        model.expected(["u000000"], [["p000001", f"p{model.n_items:06d}"]])
    with pytest.raises(ValueError, match="item id"):
        model.expected(["u000000"], [[12]])
    with pytest.raises(ValueError, match="rows"):
        model.expected(["u000000", "u000001"], [["p000001"]])
    with pytest.raises(ValueError, match="2-D"):
        model.expected(["u000000"], ["p000001"])
