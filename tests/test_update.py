"""recsys update: append-only ids, ALS factors re-solved as implicit's own update would, a servable new version.

The base bundle is the held-out ALS fit on the train window; the valid window's
events, plus a brand-new shopper buying a brand-new product, are folded in.
The reference for the re-solved factors is benfred/implicit's
``recalculate_user`` / ``recalculate_item`` (its least-squares step), not this
code.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
import scipy.sparse as sp
from implicit.cpu.als import AlternatingLeastSquares

from recsys_cli import config
from recsys_cli.bundle import read_bundle
from recsys_cli.errors import DataError
from recsys_cli.service import RecommenderService
from recsys_cli.stages import export, ingest, split, train, update

BASE = ["experiment=tiny", "tracking=none", "model.num_threads=1", "export.production=false"]


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("update")
    cfg = config.load([*BASE, f"paths.root={root}"])
    for stage in (ingest, split, train, export):
        stage.run(cfg)
    valid = pl.read_parquet(root / "data/processed/valid.parquet")
    newcomer = pl.DataFrame({"user_id": ["new-shopper"] * 3, "item_id": ["new-product", "new-product", valid["item_id"][0]],
                             "timestamp": [valid["timestamp"].max()] * 3, "event": ["view", "purchase", "view"]})
    events = pl.concat([valid.select("user_id", "item_id", "timestamp", "event"),
                        newcomer.cast({"timestamp": valid.schema["timestamp"]})])
    events.write_parquet(root / "day.parquet")
    return root


def _reference(bundle, new, users: np.ndarray, items: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # noqa: ANN001
    """One sweep by implicit: users given the old item factors, then items given the new user factors."""
    p = bundle.model.params
    h = new.history
    weights = sp.csr_matrix((h.weight, h.matrix.indices, h.matrix.indptr), shape=h.matrix.shape)
    old_items = np.zeros((len(new.items), p.factors), dtype=np.float32)
    old_items[: bundle.model.item_factors.shape[0]] = bundle.model.item_factors
    old_users = np.zeros((len(new.users), p.factors), dtype=np.float32)
    old_users[: bundle.model.user_factors.shape[0]] = bundle.model.user_factors
    ref = AlternatingLeastSquares(factors=p.factors, regularization=p.regularization, alpha=p.alpha, num_threads=1)
    ref.user_factors, ref.item_factors = old_users, old_items
    user_f = ref.recalculate_user(users, weights[users])
    old_users[users] = user_f
    ref = AlternatingLeastSquares(factors=p.factors, regularization=p.regularization, alpha=p.alpha, num_threads=1)
    ref.user_factors, ref.item_factors = old_users, old_items
    item_f = ref.recalculate_item(items, sp.csr_matrix(weights.T)[items])
    return user_f, item_f


def test_update_appends_ids_and_resolves_touched_factors_like_implicit(root: Path) -> None:
    bundle = read_bundle(root / "data/bundle")
    out = root / "bundle-v2"
    cfg = config.load([*BASE, f"paths.root={root}", f"update.events={root / 'day.parquet'}", f"update.out={out}",
                       "update.sweeps=1", "update.reach=touched", "update.cg_steps=0"])
    update.run(cfg)
    new = read_bundle(out)  # verifies every checksum
    n_users, n_items = len(bundle.users), len(bundle.items)
    # append-only: every old id keeps its index, the new ones come after
    assert new.users.ids[:n_users].tolist() == bundle.users.ids.tolist()
    assert new.items.ids[:n_items].tolist() == bundle.items.ids.tolist()
    assert new.users.ids[-1] == "new-shopper" and new.items.ids[-1] == "new-product"
    day = pl.read_parquet(root / "day.parquet")
    users = np.unique(new.users.index(day["user_id"])).astype(np.int64)
    items = np.unique(new.items.index(day["item_id"])).astype(np.int64)
    # untouched factors are exactly the old ones
    untouched = np.setdiff1d(np.arange(n_users), users)
    np.testing.assert_array_equal(new.model.user_factors[untouched], bundle.model.user_factors[untouched])
    still = np.setdiff1d(np.arange(n_items), items)
    np.testing.assert_array_equal(new.model.item_factors[still], bundle.model.item_factors[still])
    user_f, item_f = _reference(bundle, new, users, items)
    np.testing.assert_allclose(new.model.user_factors[users], user_f, rtol=2e-3, atol=2e-4)
    np.testing.assert_allclose(new.model.item_factors[items], item_f, rtol=2e-3, atol=2e-4)
    # history took the events in; the newcomer is known and personalised; the fallback counts the new product
    assert new.history.known[new.users.index(["new-shopper"])[0]]
    assert new.fallback.item_scores[-1] == 1.0
    assert new.manifest["updates"][-1]["new_users"] == 1 and new.manifest["updates"][-1]["new_items"] == 1
    service = RecommenderService(new)
    rec = service.recommend("new-shopper", 5)
    assert rec.strategy == "personalised" and "new-product" not in [i.item_id for i in rec.items]
    seen_before = set(day.filter(pl.col("user_id") == day["user_id"][0])["item_id"])
    assert not seen_before & {i.item_id for i in service.recommend(day["user_id"][0], 20).items}


def test_update_in_place_twice_keeps_a_chain_of_versions(root: Path) -> None:
    cfg = config.load([*BASE, f"paths.root={root}", f"update.events={root / 'day.parquet'}"])
    before = read_bundle(root / "data/bundle").version
    update.run(cfg)
    update.run(cfg)
    after = read_bundle(root / "data/bundle")
    assert [u["base_version"] for u in after.manifest["updates"]][0] == before
    assert len(after.manifest["updates"]) == 2 and after.version != before


def test_bad_update_events_fail_with_one_line(root: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("user_id,item_id,timestamp,event\nu1,p1,not-a-date,view\n")
    cfg = config.load([*BASE, f"paths.root={root}", f"update.events={bad}", f"update.out={tmp_path / 'x'}"])
    with pytest.raises(DataError, match=r"row 1, column 'timestamp'"):
        update.run(cfg)
    missing = tmp_path / "missing.csv"
    missing.write_text("user_id,item_id,event\nu1,p1,view\n")
    cfg = config.load([*BASE, f"paths.root={root}", f"update.events={missing}", f"update.out={tmp_path / 'x'}"])
    with pytest.raises(DataError, match="no column 'timestamp'"):
        update.run(cfg)
    assert not (tmp_path / "x").exists()


def test_conjugate_gradient_rows_converge_to_the_exact_solve() -> None:
    """Rows with factors take CG steps from them: with as many steps as factors CG reaches the exact
    least-squares solution; with 3 it gets closer than where it started; rows without factors are exact."""
    from recsys_cli.models.incremental import solve_rows

    rng = np.random.default_rng(3)
    fixed = rng.normal(scale=0.3, size=(2000, 8)).astype(np.float32)
    rows = sp.random(60, 2000, density=0.02, random_state=4, format="csr", dtype=np.float32) * 3
    rows = sp.vstack([rows, sp.random(20, 2000, density=0.2, random_state=5, format="csr", dtype=np.float32)]).tocsr()
    current = rng.normal(scale=0.3, size=(80, 8)).astype(np.float32)
    current[::7] = 0.0  # new rows: no factors yet
    exact = solve_rows(fixed, rows, alpha=2.0, reg=0.1)
    converged = solve_rows(fixed, rows, alpha=2.0, reg=0.1, current=current, cg_steps=40, block_entries=500)
    np.testing.assert_allclose(converged, exact, rtol=1e-3, atol=1e-4)
    three = solve_rows(fixed, rows, alpha=2.0, reg=0.1, current=current, cg_steps=3, block_entries=500)
    old = np.flatnonzero(current.any(axis=1))
    np.testing.assert_allclose(three[::7], exact[::7], rtol=1e-5, atol=1e-6)  # new rows: exact
    assert (np.linalg.norm(three[old] - exact[old], axis=1) < np.linalg.norm(current[old] - exact[old], axis=1)).all()
    assert not np.allclose(three[old], exact[old], atol=1e-6)  # three steps are an approximation


def test_merge_history_equals_a_group_by_of_old_and_new_pairs() -> None:
    """The in-place merge (binary search into the sorted pairs) against the plain reference: concatenate the
    old pairs and the new events, group by pair, strongest event / latest time / summed weight."""
    from recsys_cli.bundle import STRENGTH, History, merge_history

    rng = np.random.default_rng(5)
    n_users, n_items, grow_u, grow_i = 300, 200, 7, 5
    dense = rng.random((n_users, n_items)) < 0.05
    rows, cols = np.nonzero(dense)
    old = History(matrix=sp.csr_matrix((rng.integers(1, 4, rows.size).astype(np.int8), (rows, cols)),
                                       shape=(n_users, n_items)),
                  last_ms=rng.integers(0, 10**9, rows.size).astype(np.int64),
                  known=rng.random(n_users) < 0.8, weight=rng.random(rows.size).astype(np.float32))
    n = 2000  # half on existing pairs, half anywhere (new users and items included), repeats within the batch
    pick = rng.integers(0, rows.size, n // 2)
    users = np.concatenate([rows[pick], rng.integers(0, n_users + grow_u, n // 2)])
    items = np.concatenate([cols[pick], rng.integers(0, n_items + grow_i, n // 2)])
    names = list(STRENGTH)
    events = pl.DataFrame({"user_idx": users, "item_idx": items,
                           "event": [names[i] for i in rng.integers(0, len(names), n)],
                           "timestamp": (rng.integers(0, 2 * 10**9, n)).astype("datetime64[ms]"),
                           "weight": rng.random(n).astype(np.float32)})
    got = merge_history(old, events, n_users + grow_u, n_items + grow_i)

    m = old.matrix
    reference = (pl.concat([
        pl.DataFrame({"u": np.repeat(np.arange(n_users), np.diff(m.indptr)), "i": m.indices.astype(np.int64),
                      "s": m.data.astype(np.int64), "t": old.last_ms, "w": old.weight.astype(np.float64)}),
        pl.DataFrame({"u": users, "i": items, "s": [STRENGTH[e] for e in events["event"]],
                      "t": events["timestamp"].dt.epoch("ms"), "w": events["weight"].cast(pl.Float64)}),
    ]).group_by("u", "i").agg(pl.col("s").max(), pl.col("t").max(), pl.col("w").sum()).sort("u", "i"))
    g = got.matrix
    assert g.shape == (n_users + grow_u, n_items + grow_i)
    np.testing.assert_array_equal(np.repeat(np.arange(g.shape[0]), np.diff(g.indptr)), reference["u"].to_numpy())
    np.testing.assert_array_equal(g.indices, reference["i"].to_numpy())
    np.testing.assert_array_equal(g.data, reference["s"].to_numpy())
    np.testing.assert_array_equal(got.last_ms, reference["t"].to_numpy())
    np.testing.assert_allclose(got.weight, reference["w"].to_numpy(), rtol=1e-5)
    assert got.known[:n_users].tolist() == old.known.tolist() and not got.known[n_users:].any()
