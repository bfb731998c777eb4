"""Two-stage retrieval (serve.retrieval): the candidates-then-rank path against the exact one.

With an exhaustive index (every IVF cluster probed, or the exact index) the
candidate stage holds the exact top of the ranking, so the two-stage lists
must equal the exact path's item for item: plain, folded in, with filters and
exclusions, and with new products placed and boosted. Placement and the boost
are computed in closed form on the two-stage path (a new product's vector is
the mean of its neighbours' vectors; the spread comes from a covariance), so
equality here checks that algebra against the exact row-wise computation.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from recsys_cli.bundle import read_bundle
from recsys_cli.config import NewItemsConfig, RetrievalConfig, ServeConfig
from recsys_cli.service import RecommenderService
from recsys_cli.service.retrieval import VectorIndex
from recsys_cli.service.types import Filters, RecommendRequest


def _services(shop: Path, candidates: int, index: str, **new_items: object
              ) -> tuple[RecommenderService, RecommenderService]:
    bundle = read_bundle(shop / "data" / "bundle")
    base = ServeConfig(cache="none", new_items=replace(NewItemsConfig(), **new_items))
    staged = replace(base, retrieval=replace(RetrievalConfig(), candidates=candidates, index=index, min_items=0,
                                             nprobe=10_000))
    return RecommenderService(bundle, base), RecommenderService(bundle, staged)


def _ids(rec) -> list[str]:  # noqa: ANN001
    return [i.item_id for i in rec.items]


@pytest.mark.parametrize("index", ["ivf", "exact"])
def test_two_stage_with_an_exhaustive_index_equals_the_exact_path(shop: Path, index: str) -> None:
    exact, staged = _services(shop, candidates=60, index=index, boost=2.0)
    assert staged.retriever is not None and staged.places_new_items and staged._boosted
    rng = np.random.default_rng(0)
    known = np.flatnonzero(exact.history.known)
    lengths = np.diff(exact.history.matrix.indptr)
    users = [u for u in rng.permutation(known)[:200] if lengths[u] <= 30]  # exact top-10 within 60 candidates
    assert len(users) > 50
    category = str(exact.bundle.catalog["category"][0])
    compared = 0
    for u in users:
        uid = str(exact.user_ids[u])
        for req in (RecommendRequest(uid, k=10),
                    RecommendRequest(uid, k=5, filters=Filters(categories=[category])),
                    RecommendRequest(uid, k=10, exclude=_ids(exact.recommend(uid, 3)))):
            want, got = exact.recommend(req), staged.recommend(req)
            assert got.strategy == want.strategy == "personalised"
            assert _ids(got) == _ids(want), (uid, req)
            assert np.allclose([i.score for i in got.items], [i.score for i in want.items], rtol=1e-4, atol=1e-5)
            compared += 1
    # folded in: a shopper the bundle never saw, with a few views
    items = [str(exact.item_ids[i]) for i in range(0, 40, 7)]
    for service in (exact, staged):
        for item in items:
            assert service.live.add("fresh-shopper", item, "view")
    want, got = exact.recommend("fresh-shopper", 10), staged.recommend("fresh-shopper", 10)
    assert got.strategy == want.strategy == "fold_in"
    assert _ids(got) == _ids(want)
    assert compared >= 150


def test_new_products_are_placed_and_boosted_on_both_paths(shop: Path) -> None:
    exact, staged = _services(shop, candidates=60, index="exact", boost=50.0)
    boosted = {str(exact.item_ids[i]) for i in exact._boosted}
    uid = str(exact.user_ids[np.flatnonzero(exact.history.known)[0]])
    want, got = exact.recommend(uid, 10), staged.recommend(uid, 10)
    assert boosted & set(_ids(want))  # a large boost lifts new products into the list...
    assert _ids(got) == _ids(want)  # ...and the two-stage path lists the same ones, in the same order


def test_ivf_recall_of_the_exact_top_on_random_vectors() -> None:
    """The IVF index against brute force on clustered vectors: the default nprobe finds the true top."""
    rng = np.random.default_rng(1)
    centres = rng.normal(size=(40, 16))
    vectors = (centres[rng.integers(0, 40, 8000)] + 0.3 * rng.normal(size=(8000, 16))).astype(np.float32)
    ids = np.arange(8000) * 3 + 5  # searches answer in item ids, not rows
    index = VectorIndex(vectors, "ivf", ids=ids, nprobe=RetrievalConfig().nprobe)
    recalls = []
    for q in rng.normal(size=(50, 16)).astype(np.float32):
        truth = set(ids[np.argsort(-(vectors @ q), kind="stable")[:10]].tolist())
        recalls.append(len(truth & set(index.search(q, 200).tolist())) / 10)
    assert np.mean(recalls) >= 0.95
