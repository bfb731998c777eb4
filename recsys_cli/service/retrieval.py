"""Two-stage retrieval for large catalogs: a few hundred candidates, then the model ranks only those.

Stage one unions three sources:

- an approximate nearest-neighbour index over the model's item vectors,
  searched with the shopper's vector (inner product: for ALS/BPR/LMF exactly
  the model's own score, so the ANN's top is the model's top, approximately):
  ``serve.retrieval.index`` ``ivf`` (the default: faiss's inverted file,
  ``nlist`` clusters of which ``nprobe`` are scanned; it builds in a fraction
  of a second and measured fastest here at the recall target), ``faiss``
  (faiss HNSW), ``usearch`` (usearch HNSW) or ``exact``. For a factor model
  the index also holds each new product's placement vector (the weighted mean
  of its content neighbours' vectors), so new products are retrieved by the
  score the exact path would place them at;
- co-visitation: the items most often interacted with by the same shoppers as
  the shopper's most recent items (top ``covisit`` per item, built at load);
- popularity: the ``popular`` most popular items (so a list is never empty).

Stage two is the model's ``score(users, items=candidates)``; everything after
(new products, filters, exclusions, explanations) is the same as the exact
path, on the candidates only. ``bench/serve_inprocess.py`` reports the
candidate stage's recall of the exact top-K and both latencies.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from recsys_cli.config import RetrievalConfig
from recsys_cli.errors import ConfigError


class VectorIndex:
    """Inner-product top-n over item vectors: faiss IVF or HNSW, usearch HNSW, or exact (numpy).

    ``ids`` names each vector's item (default: its row); searches return item ids.
    """

    def __init__(self, vectors: np.ndarray, kind: str = "auto", seed: int = 0, ids: np.ndarray | None = None,
                 nlist: int = 0, nprobe: int = 32) -> None:
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self.ids = np.arange(len(self.vectors), dtype=np.int64) if ids is None else np.asarray(ids, dtype=np.int64)
        self.kind = self._choose(kind)
        n, d = self.vectors.shape
        if self.kind == "ivf":
            import faiss

            faiss.omp_set_num_threads(1)
            lists = nlist or max(1, int(round(np.sqrt(n))))
            lists = max(1, min(lists, n // 39 or 1))  # faiss wants >= 39 training points per cluster
            quantizer = faiss.IndexFlatIP(d)
            index = faiss.IndexIVFFlat(quantizer, d, lists, faiss.METRIC_INNER_PRODUCT)
            index.cp.seed = seed
            index.train(self.vectors)
            index.add(self.vectors)
            index.nprobe = min(nprobe, lists)
            self.index, self._quantizer = index, quantizer  # the index does not own its quantizer
        elif self.kind == "faiss":
            import faiss

            faiss.omp_set_num_threads(1)
            index = faiss.IndexHNSWFlat(d, 32, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = 200
            index.add(self.vectors)
            self.index = index
        elif self.kind == "usearch":
            from usearch.index import Index

            index = Index(ndim=d, metric="ip", dtype="f32", connectivity=32, expansion_add=200, expansion_search=256)
            index.add(np.arange(n, dtype=np.uint64), self.vectors, threads=1)
            self.index = index

    @staticmethod
    def _choose(kind: str) -> str:
        if kind == "exact":
            return "exact"
        for name in (["ivf", "usearch"] if kind == "auto" else [kind]):
            try:
                __import__("usearch.index" if name == "usearch" else "faiss")
                return name
            except ImportError:
                if kind != "auto":
                    raise ConfigError(f"serve.retrieval.index={kind}: not installed; pip install -e '.[ann]'") from None
        return "exact"

    def search(self, query: np.ndarray, n: int) -> np.ndarray:
        query = np.ascontiguousarray(query, dtype=np.float32).reshape(1, -1)
        n = min(n, self.vectors.shape[0])
        if self.kind in ("ivf", "faiss"):
            if self.kind == "faiss":
                self.index.hnsw.efSearch = max(n, 64)
            _, rows = self.index.search(query, n)
            return self.ids[rows[0][rows[0] >= 0]]
        if self.kind == "usearch":
            matches = self.index.search(query[0], n, exact=False, threads=1)
            return self.ids[np.asarray(matches.keys, dtype=np.int64)]
        scores = self.vectors @ query[0]
        return self.ids[np.argpartition(-scores, n - 1)[:n] if n < scores.size else np.arange(scores.size)]


def covisitation(history: sp.csr_matrix, top: int, max_user_items: int = 200) -> sp.csr_matrix:
    """Item x item: for each item the ``top`` items most often shared by the same shoppers (binary counts)."""
    binary = sp.csr_matrix((np.ones(history.nnz, dtype=np.float32), history.indices, history.indptr),
                           shape=history.shape)
    lengths = np.diff(binary.indptr)
    heavy = lengths > max_user_items  # a few heavy shoppers would dominate (and cost) the counts
    if heavy.any():
        binary = sp.diags((~heavy).astype(np.float32)) @ binary
    counts = (binary.T @ binary).tocsr()
    counts.setdiag(0)
    counts.eliminate_zeros()
    from recsys_cli.models.itemitem import topk_rows

    return topk_rows(lambda rows: counts[rows].toarray(), counts.shape[0], counts.shape[1], top)


@dataclass
class Retriever:
    index: VectorIndex
    covisit: sp.csr_matrix | None
    popular: np.ndarray
    config: RetrievalConfig

    @classmethod
    def build(cls, item_vectors: np.ndarray, history: sp.csr_matrix, popularity: np.ndarray,
              config: RetrievalConfig, ids: np.ndarray | None = None) -> Retriever:
        """``item_vectors`` (named by ``ids``, default their rows) go into the index."""
        covisit = covisitation(history, config.covisit) if config.covisit else None
        order = np.lexsort((np.arange(popularity.size), -popularity))[: config.popular]
        index = VectorIndex(item_vectors, config.index, ids=ids, nlist=config.nlist, nprobe=config.nprobe)
        return cls(index, covisit, order, config)

    def candidates(self, query: np.ndarray | None, recent: np.ndarray) -> np.ndarray:
        """Sorted unique item indices: popular, the index's top ``candidates``, co-visited with
        the last 10 of ``recent`` (oldest first)."""
        parts = [self.popular]
        if query is not None:
            parts.append(self.index.search(query, self.config.candidates))
        if self.covisit is not None and recent.size:
            ptr, idx = self.covisit.indptr, self.covisit.indices
            parts.extend(idx[ptr[i] : ptr[i + 1]] for i in np.asarray(recent[-10:], dtype=np.int64).tolist())
        return np.unique(np.concatenate(parts).astype(np.int64))


def retrieval_vectors(model: object) -> tuple[np.ndarray, str] | None:
    """Item vectors whose inner product with a user vector is (part of) the model's score, or None."""
    from recsys_cli.models.factors import FactorModel

    if isinstance(model, FactorModel):
        return model.item_factors, "factors"
    for component, weight in zip(getattr(model, "models", []), getattr(model, "weights", [])):
        if weight and isinstance(component, FactorModel):  # a hybrid: retrieve with its factor component
            return component.item_factors, "hybrid factors"
    return None
