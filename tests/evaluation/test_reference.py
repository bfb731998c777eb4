"""Per-user agreement with reference implementations (ranx, trec_eval via pytrec_eval).

test_metrics.py compares *means* with ranx; here every user's value must match, on
randomised cases that cover |R| > k and |R| < k, lists shorter than k (padded
with -1), lists that are only padding, and cutoffs beyond the list length.
Rankings are explicit lists: the reference runs get strictly decreasing scores by
rank, so neither tool's tie-breaking (ranx: sort order; trec_eval: docno
descending) can reorder them.

Definitions that coincide (binary relevance, |R| >= 1, checked per user to 1e-9):

  recsys          ranx            trec_eval (pytrec_eval)
  ndcg@k          ndcg@k          ndcg_cut_k
  recall@k        recall@k        recall_k
  precision@k     precision@k     P_k        (all three divide by k, also when
                                              fewer than k items are listed)
  map@k           map@k           map_cut_k
  mrr@k           mrr@k           --         (trec's recip_rank is not cut at k:
                                              it equals mrr@L, L = list width)
  hit_rate@k      hit_rate@k      success_k

Differences (documented, and asserted below so they cannot drift silently):

* trec_eval's recip_rank looks at the whole run, so a first hit below rank k
  gives 1/rank there and 0 for mrr@k (and ranx mrr@k).
* trec_eval (pytrec_eval) drops a query whose run is empty: a user whose list is
  only padding has no entry at all (trec_eval -c would score it 0). recsys and
  ranx (make_comparable=True) score that user 0 on every metric.
* recall_capped and map_capped (denominator min(k, |R|)) have no ranx or
  trec_eval counterpart; test_metrics.py checks they differ from recall/map only
  by the denominator.

Users with no relevant item are never passed to the references: recsys does not
score them (see the last tests).
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recsys_cli.evaluation.metrics import evaluate, hits_matrix, per_user
from recsys_cli.models.base import Recs, rank

KS = [1, 3, 5, 10, 15]  # 15 > list width: cut beyond the list
WIDTH = 10
SEEDS = [0, 1, 2, 3, 4, 5]
RANX = {"ndcg": "ndcg", "recall": "recall", "precision": "precision", "map": "map", "mrr": "mrr",
        "hit_rate": "hit_rate"}
TREC = {"ndcg": "ndcg_cut", "recall": "recall", "precision": "P", "map": "map_cut", "hit_rate": "success"}


def rel_matrix(sets: list[set[int]], n_items: int) -> sp.csr_matrix:
    rows = [u for u, s in enumerate(sets) for _ in s]
    cols = [i for s in sets for i in sorted(s)]
    return sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(len(sets), n_items))


def random_case(seed: int, n_users: int = 120) -> tuple[list[set[int]], np.ndarray, int]:
    """Relevant sets of size 1..30 (so both |R| < k and |R| > k) and explicit
    top-WIDTH lists, some shorter (padded with -1), some only padding. Lists mix
    relevant and random items so hits land at every rank."""
    rng = np.random.default_rng(seed)
    n_items = int(rng.integers(35, 200))
    sets, top = [], np.full((n_users, WIDTH), -1, dtype=np.int64)
    for u in range(n_users):
        size = int(rng.choice([1, 2, 3, int(rng.integers(4, 10)), int(rng.integers(10, 31))]))
        rel = rng.choice(n_items, size=size, replace=False)
        sets.append(set(rel.tolist()))
        length = int(rng.choice([0, int(rng.integers(1, WIDTH)), WIDTH, WIDTH], p=[0.05, 0.35, 0.3, 0.3]))
        n_hit = min(int(rng.binomial(length, rng.random())), size)  # relevant items put in the list
        chosen = rng.choice(rel, size=n_hit, replace=False)
        others = rng.permutation(np.setdiff1d(np.arange(n_items), chosen))[: length - n_hit]  # may be relevant too
        top[u, :length] = rng.permutation(np.concatenate([chosen, others]))
    return sets, top, n_items


def qid(u: int) -> str:
    return f"u{u:05d}"  # zero-padded: the references' sorted query order is user order


def run_dict(top: np.ndarray) -> dict[str, dict[str, float]]:
    """Strictly decreasing scores by rank; padding-only users get no entry."""
    return {qid(u): {f"i{i}": float(top.shape[1] - r) for r, i in enumerate(row) if i >= 0}
            for u, row in enumerate(top) if (row >= 0).any()}


def qrels_dict(sets: list[set[int]]) -> dict[str, dict[str, int]]:
    return {qid(u): {f"i{i}": 1 for i in s} for u, s in enumerate(sets)}


def ours(sets: list[set[int]], top: np.ndarray, n_items: int) -> dict[str, np.ndarray]:
    rel = rel_matrix(sets, n_items)
    return per_user(hits_matrix(top, rel), np.diff(rel.indptr), KS)


def test_random_cases_cover_the_edges() -> None:
    """Guard: the randomised cases really contain what the reference tests claim."""
    sizes, lengths, deep_first = [], [], 0
    for seed in SEEDS:
        sets, top, n_items = random_case(seed)
        sizes += [len(s) for s in sets]
        lengths += (top >= 0).sum(axis=1).tolist()
        hits = hits_matrix(top, rel_matrix(sets, n_items))
        first = np.where(hits.any(axis=1), hits.argmax(axis=1), WIDTH)
        deep_first += int(((first >= 5) & (first < WIDTH)).sum())
        assert (top[(top >= 0).sum(axis=1)[:, None] <= np.arange(WIDTH)] == -1).all()  # padding only at the end
    sizes, lengths = np.array(sizes), np.array(lengths)
    assert (sizes > max(KS)).any() and (sizes < 5).any() and (sizes == 1).any()
    assert (lengths == 0).any() and ((lengths > 0) & (lengths < WIDTH)).any() and (lengths == WIDTH).any()
    assert deep_first > 0  # first hit below rank 5: mrr@5 = 0 but recip_rank > 0


@pytest.mark.parametrize("seed", SEEDS)
def test_per_user_equals_ranx(seed: int) -> None:
    ranx = pytest.importorskip("ranx")
    sets, top, n_items = random_case(seed)
    mine = ours(sets, top, n_items)
    qrels, run = ranx.Qrels(qrels_dict(sets)), ranx.Run(run_dict(top))
    wanted = [f"{theirs}@{k}" for theirs in RANX.values() for k in KS]
    ref = ranx.evaluate(qrels, run, wanted, return_mean=False, make_comparable=True)
    assert run.get_query_ids() == [qid(u) for u in range(len(sets))]  # per-user arrays are in user order
    for name, theirs in RANX.items():
        for k in KS:
            np.testing.assert_allclose(mine[f"{name}@{k}"], ref[f"{theirs}@{k}"], rtol=0, atol=1e-9,
                                       err_msg=f"{name}@{k} seed {seed}")
    # padding-only users are in ranx's result (make_comparable) and score 0 in both
    empty = (top < 0).all(axis=1)
    assert empty.any()
    for k in KS:
        assert (ref[f"ndcg@{k}"][empty] == 0).all() and (mine[f"ndcg@{k}"][empty] == 0).all()


@pytest.mark.parametrize("seed", SEEDS)
def test_per_user_equals_trec_eval(seed: int) -> None:
    try:
        import pytrec_eval
    except ImportError as exc:  # pragma: no cover - depends on the environment
        pytest.skip(f"pytrec_eval (pytrec-eval-terrier) not importable, trec_eval comparison skipped: {exc}")
    sets, top, n_items = random_case(seed)
    mine = ours(sets, top, n_items)
    cut = ",".join(map(str, KS))
    measures = {f"{m}.{cut}" for m in TREC.values()} | {"recip_rank"}
    ref = pytrec_eval.RelevanceEvaluator(qrels_dict(sets), measures).evaluate(run_dict(top))

    empty = (top < 0).all(axis=1)
    # difference 1: trec_eval drops queries with an empty run (recsys scores them 0)
    assert set(ref) == {qid(u) for u in np.flatnonzero(~empty)}
    users = np.flatnonzero(~empty)
    for name, theirs in TREC.items():
        for k in KS:
            got = np.array([ref[qid(u)][f"{theirs}_{k}"] for u in users])
            np.testing.assert_allclose(mine[f"{name}@{k}"][users], got, rtol=0, atol=1e-9,
                                       err_msg=f"{name}@{k} vs {theirs}_{k} seed {seed}")
    # difference 2: recip_rank is over the whole run, i.e. mrr at the list width (not at k)
    rr = np.array([ref[qid(u)]["recip_rank"] for u in users])
    full = per_user(hits_matrix(top, rel_matrix(sets, n_items)), np.array([len(s) for s in sets]), [WIDTH])
    np.testing.assert_allclose(full[f"mrr@{WIDTH}"][users], rr, rtol=0, atol=1e-9)
    for k in (1, 3, 5):  # mrr@k departs from recip_rank only when the first hit is below rank k
        differ = np.abs(mine[f"mrr@{k}"][users] - rr) > 1e-12
        assert (mine[f"mrr@{k}"][users][differ] == 0).all() and (rr[differ] <= 1 / (k + 1) + 1e-12).all()


class FixedScores:
    """A stand-in recommender over a fixed score matrix (uses the real ``rank``)."""

    def __init__(self, scores: np.ndarray) -> None:
        self.scores = scores

    def recommend(self, users: np.ndarray, k: int, exclude: sp.csr_matrix | None = None) -> Recs:
        return rank(self.scores[users], k, exclude)


def scoring_case(seed: int = 11, n_users: int = 150, n_items: int = 60):
    rng = np.random.default_rng(seed)
    scores = rng.standard_normal((n_users, n_items)).astype(np.float32)
    scores[:, 10:16] = 0.5  # ties (ordered by item index inside rank)
    rel = rng.random((n_users, n_items)) < rng.uniform(0.01, 0.3, (n_users, 1))
    rel[::13] = False  # some users with no relevant item
    rel[5:8, 30] = True
    seen = (rng.random((n_users, n_items)) < 0.2) & ~rel  # held-out items are not in the history...
    seen[5, :] = True  # ...except here: everything seen, a list of only padding
    seen[6, :3], seen[6, 3:] = False, True  # three items left: a list padded after rank 3
    seen[7, -4:], seen[7, :-4] = False, True
    rel = sp.csr_matrix(rel.astype(np.float32))
    return scores, sp.csr_matrix(seen.astype(np.float32)), rel


def test_evaluate_batch_size_invariant() -> None:
    scores, seen, rel = scoring_case()
    n_users, n_items = scores.shape
    model = FixedScores(scores)
    users = np.random.default_rng(3).permutation(n_users)  # not sorted: order must be kept
    ks = [1, 5, 10, 20]
    results = {b: evaluate(model.recommend, users, rel, n_items, ks, exclude=seen, batch_size=b)
               for b in (1, 7, 64, n_users, 10_000)}
    base = results[1]
    assert base.summary["users"] == int((np.diff(rel.indptr)[users] > 0).sum())
    for b, other in results.items():
        assert other.summary == base.summary, b
        assert other.per_user.equals(base.per_user), b
        assert np.array_equal(other.top, base.top) and np.array_equal(other.users, base.users), b
    # the padded users really are padded, and their lists hold no excluded item
    top = base.top
    row = {u: i for i, u in enumerate(base.users)}
    assert (top[row[5]] == -1).all()
    assert (top[row[6], :3] >= 0).all() and (top[row[6], 3:] == -1).all()
    assert not any(seen[u, i] for u, r in row.items() for i in top[r] if i >= 0)


def test_evaluate_end_to_end_equals_ranx() -> None:
    """The lists evaluate() ranks (exclusion, padding) scored by ranx user by user."""
    ranx = pytest.importorskip("ranx")
    scores, seen, rel = scoring_case(seed=12)
    n_users, n_items = scores.shape
    ks = [1, 5, 10, 20]
    res = evaluate(FixedScores(scores).recommend, np.arange(n_users), rel, n_items, ks, exclude=seen, batch_size=16)
    users, top = res.users, res.top.astype(np.int64)
    sets = [set(rel[u].indices.tolist()) for u in users]
    qrels, run = ranx.Qrels(qrels_dict(sets)), ranx.Run(run_dict(top))
    ref = ranx.evaluate(qrels, run, [f"{t}@{k}" for t in RANX.values() for k in ks], return_mean=False,
                        make_comparable=True)
    for name, theirs in RANX.items():
        for k in ks:
            np.testing.assert_allclose(res.per_user[f"{name}@{k}"].to_numpy(), ref[f"{theirs}@{k}"], rtol=0,
                                       atol=1e-9, err_msg=f"{name}@{k}")
            assert res.summary[f"{name}@{k}"] == pytest.approx(float(np.mean(ref[f"{theirs}@{k}"])), abs=1e-12)


def test_users_without_relevant_items_are_counted_not_scored() -> None:
    # items 0..5 ranked in order for everyone; user 1 has no relevant item and a
    # "perfect" list would score 1, an empty one 0: it must get neither
    scores = np.tile(np.arange(6, dtype=np.float32)[::-1], (4, 1))
    rel = rel_matrix([{0}, set(), {5}, set()], 6)
    users = np.arange(4)
    res = evaluate(FixedScores(scores).recommend, users, rel, 6, [1, 6])
    assert res.summary["users"] == 2
    assert users.size - res.summary["users"] == 2  # what the eval stage reports as users_without_relevant
    assert res.per_user["user_idx"].to_list() == [0, 2]
    assert res.per_user.height == 2 and res.top.shape == (2, 6)
    for name in ("ndcg", "recall", "precision", "map", "mrr", "hit_rate", "recall_capped", "map_capped"):
        col = res.per_user[f"{name}@6"].to_numpy()
        assert np.isfinite(col).all()
        assert res.summary[f"{name}@6"] == pytest.approx(col.mean())  # mean over the 2 scored users only
    assert res.summary["hit_rate@1"] == pytest.approx(0.5)  # not 1/4 (scored 0) nor 3/4 (scored 1)
    assert res.summary["ndcg@6"] == pytest.approx((1 + 1 / np.log2(7)) / 2)
    # nobody has a relevant item: nothing is scored, nothing divides by zero
    none = evaluate(FixedScores(scores).recommend, users, rel_matrix([set()] * 4, 6), 6, [3])
    assert none.summary["users"] == 0 and none.per_user.height == 0 and "ndcg@3" not in none.summary


def test_padding_only_list_scores_zero() -> None:
    top = np.full((2, 5), -1)
    rel = rel_matrix([{0, 4}, {1}], 5)
    m = per_user(hits_matrix(top, rel), np.diff(rel.indptr), [1, 5, 8])
    for name, values in m.items():
        assert (values == 0).all(), name
    # through evaluate: every item already seen -> only padding -> 0, and no coverage
    scores = np.ones((1, 5), dtype=np.float32)
    res = evaluate(FixedScores(scores).recommend, np.arange(1), rel_matrix([{3}], 5), 5, [3],
                   exclude=sp.csr_matrix(np.ones((1, 5), dtype=np.float32)))
    assert res.summary["users"] == 1 and (res.top == -1).all()
    for name in ("ndcg", "recall", "recall_capped", "precision", "map", "map_capped", "mrr", "hit_rate"):
        assert res.summary[f"{name}@3"] == 0, name
    assert res.summary["coverage@3"] == 0


def test_padding_never_counts_as_a_hit() -> None:
    # hits_matrix keys are row * n_items + item: padding (-1) in row u lands on the
    # key of row u-1's last item, which is relevant here; it must not be a hit
    n_items = 6
    rel = rel_matrix([{5}, {5, 0}, {5}], n_items)
    top = np.array([[-1, -1, 5], [-1, 0, -1], [5, -1, -1]])
    hits = hits_matrix(top, rel)
    assert hits.tolist() == [[False, False, True], [False, True, False], [True, False, False]]
    m = per_user(hits, np.diff(rel.indptr), [1, 3])
    assert m["precision@3"].tolist() == pytest.approx([1 / 3, 1 / 3, 1 / 3])
    assert m["hit_rate@1"].tolist() == [0.0, 0.0, 1.0]
    assert m["mrr@3"].tolist() == pytest.approx([1 / 3, 1 / 2, 1.0])
    # int32 lists (what rank returns) behave the same
    assert hits_matrix(top.astype(np.int32), rel).tolist() == hits.tolist()
