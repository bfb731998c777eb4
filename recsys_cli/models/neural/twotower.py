"""Two-tower retrieval model: a user tower and an item tower meeting in a dot product.

- **User tower**: user id embedding + the user's one-hot side features
  (summed embeddings), through ``layers`` (ReLU) to ``factors`` dimensions.
- **Item tower**: item id embedding + one-hot side features + the item's
  TF-IDF text through a linear projection (when ``data.features`` has them),
  through its own ``layers`` to ``factors`` dimensions.

Both outputs are L2-normalised; the score is their dot product divided by
``temperature``. Training is a sampled softmax over in-batch negatives: each
train pair's item must win against the other items of the batch (other
rows holding the same item are masked, not counted as negatives). With
``logq: true`` each in-batch logit is corrected by minus the log of the
item's share of the training pairs (Yi et al. 2019), so popular items are not
punished for turning up as negatives more often.

Cold items and users (no train interactions) are represented by their
features alone: their id embeddings are switched off at scoring time, and
during training an item's id embedding is dropped with probability
``id_dropout`` so the feature path learns to stand on its own.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Literal, Self

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from torch import nn

from recsys_cli.models.base import Recs, TrainData, rank
from recsys_cli.models.factors import cosine_neighbours
from recsys_cli.models.neural.loop import History, adam, fit_epochs, resolve_device, seeded
from recsys_cli.models.neural.sampling import positives
from recsys_cli.models.neural.scoring import mlp, to_numpy
from recsys_cli.models.neural.sparse import Projection, SparseRows
from recsys_cli.models.neural.weights import restore, save_net
from recsys_cli.models.store import load_arrays
from recsys_cli.schema import bound

ITEM_BATCH = 1 << 14  # items encoded at once when caching item vectors


@dataclass
class TwoTowerParams:
    factors: int = bound(64, ge=1)  # embedding and output size of both towers
    layers: list[int] = field(default_factory=lambda: [128], metadata={"ge": 1})  # hidden layers of each tower
    temperature: float = bound(0.05, gt=0.0)
    logq: bool = True  # correct in-batch logits by the item's sampling probability
    id_dropout: float = bound(0.1, ge=0.0, lt=1.0)  # chance an item's id embedding is dropped in training
    lr: float = bound(0.002, gt=0.0)
    weight_decay: float = bound(0.0, ge=0.0)
    batch_size: int = bound(1024, ge=2)
    epochs: int = bound(30, ge=1)
    patience: int | None = bound(3, ge=1)  # epochs without valid NDCG@10 gain; null: no early stopping
    device: Literal["auto", "cpu", "cuda"] = "auto"
    num_threads: int = bound(0, ge=0)  # torch CPU threads; 0: torch's default


class Tower(nn.Module):
    """id embedding (where warm) + projections of sparse feature blocks -> MLP -> unit vector."""

    def __init__(self, n_ids: int, feature_cols: list[int], factors: int, layers: list[int]) -> None:
        super().__init__()
        self.ids = nn.Embedding(n_ids, factors)
        nn.init.normal_(self.ids.weight, std=0.01)
        self.features = nn.ModuleList(Projection(cols, factors) for cols in feature_cols)
        self.hidden = mlp([factors, *layers])
        self.out = nn.Linear(layers[-1] if layers else factors, factors)

    def forward(self, ids: torch.Tensor, id_weight: torch.Tensor, blocks: list[SparseRows]) -> torch.Tensor:
        index = ids.cpu().numpy()
        x = self.ids(ids) * id_weight[:, None]
        for proj, rows in zip(self.features, blocks, strict=True):
            x = x + proj(rows, index, ids.device)
        return F.normalize(self.out(self.hidden(x)), dim=-1)


class TwoTowerNet(nn.Module):
    def __init__(self, n_users: int, n_items: int, user_cols: list[int], item_cols: list[int], p: TwoTowerParams) -> None:
        super().__init__()
        self.user = Tower(n_users, user_cols, p.factors, p.layers)
        self.item = Tower(n_items, item_cols, p.factors, p.layers)
        # 1 where the id has train interactions (its id embedding is used), else 0
        self.register_buffer("user_warm", torch.zeros(n_users))
        self.register_buffer("item_warm", torch.zeros(n_items))
        # log of each item's share of the train pairs (the in-batch sampling probability)
        self.register_buffer("item_logq", torch.zeros(n_items))


class TwoTower:
    name: ClassVar[str] = "twotower"
    Params: ClassVar[type] = TwoTowerParams

    def __init__(self, params: TwoTowerParams | None = None, show_progress: bool = False) -> None:
        self.params = params or TwoTowerParams()
        self.show_progress = show_progress
        self.n_users = 0
        self.n_items = 0
        self.user_blocks: list[SparseRows] = []
        self.item_blocks: list[SparseRows] = []
        self.net: TwoTowerNet | None = None
        self.device = torch.device("cpu")
        self.history = History()
        self._item_vectors: torch.Tensor | None = None

    def _build(self) -> TwoTowerNet:
        return TwoTowerNet(self.n_users, self.n_items, [b.columns for b in self.user_blocks],
                           [b.columns for b in self.item_blocks], self.params)

    def _users(self, users: torch.Tensor) -> torch.Tensor:
        assert self.net is not None
        return self.net.user(users, self.net.user_warm[users], self.user_blocks)

    def _items(self, items: torch.Tensor, drop: float = 0.0) -> torch.Tensor:
        assert self.net is not None
        weight = self.net.item_warm[items]
        if drop:
            weight = weight * (torch.rand(len(items), device=items.device) >= drop)
        return self.net.item(items, weight, self.item_blocks)

    def _loss(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        assert self.net is not None
        p = self.params
        logits = self._users(users) @ self._items(items, p.id_dropout).T / p.temperature
        if p.logq:
            logits = logits - self.net.item_logq[items][None, :]
        same = items[:, None] == items[None, :]
        same.fill_diagonal_(False)
        logits = logits.masked_fill(same, float("-inf"))
        return F.cross_entropy(logits, torch.arange(len(users), device=users.device))

    def fit(self, data: TrainData) -> Self:
        p = self.params
        self.device = resolve_device(p.device)
        self.n_users, self.n_items = data.n_users, data.n_items
        f = data.features
        self.user_blocks = [SparseRows.of(f.user_side.matrix, data.n_users)] if f is not None else []
        self.item_blocks = [SparseRows.of(f.item_side.matrix, data.n_items), SparseRows.of(f.tfidf, data.n_items)] if f is not None else []
        binary = (data.matrix > 0).tocsr()
        pairs = positives(binary)
        counts = np.bincount(pairs[1], minlength=data.n_items)
        with seeded(data.seed, self.device, p.num_threads):
            self.net = net = self._build().to(self.device)
            net.user_warm.copy_(torch.from_numpy((np.diff(binary.indptr) > 0).astype(np.float32)))
            net.item_warm.copy_(torch.from_numpy((counts > 0).astype(np.float32)))
            net.item_logq.copy_(torch.from_numpy(np.log(np.maximum(counts, 1) / max(counts.sum(), 1)).astype(np.float32)))
            optimizer = adam(net, p.lr, p.weight_decay)
            self.history = fit_epochs(
                self, data, net, optimizer,
                examples=lambda rng: pairs,
                loss=lambda b: self._loss(b[0], b[1]),
                epochs=p.epochs, patience=p.patience, batch_size=p.batch_size,
                device=self.device, show_progress=self.show_progress,
                before_eval=self._forget,
            )
        return self

    def _forget(self) -> None:
        self._item_vectors = None

    def item_vectors(self) -> torch.Tensor:
        """Every item's unit vector (cached until the weights change)."""
        if self._item_vectors is None:
            with torch.no_grad():
                parts = [self._items(torch.arange(s, min(s + ITEM_BATCH, self.n_items), device=self.device))
                         for s in range(0, self.n_items, ITEM_BATCH)]
            self._item_vectors = torch.cat(parts) if parts else torch.zeros(0, self.params.factors, device=self.device)
        return self._item_vectors

    def fitted_params(self) -> TwoTowerParams:
        """The params with ``epochs`` = the best epoch and no early stopping (for a refit)."""
        return dataclasses.replace(self.params, epochs=self.history.best_epoch or self.params.epochs, patience=None)

    def score(self, users: np.ndarray, items: np.ndarray | None = None) -> np.ndarray:
        assert self.net is not None, "fit or load the model first"
        vectors = self.item_vectors()
        if items is not None:
            vectors = vectors[torch.as_tensor(np.asarray(items, dtype=np.int64), device=self.device)]
        with torch.no_grad():
            u = self._users(torch.as_tensor(np.asarray(users, dtype=np.int64), device=self.device))
            return to_numpy(u @ vectors.T / self.params.temperature)

    def recommend(
        self, users: np.ndarray, k: int, exclude: sp.csr_matrix | None = None, items: np.ndarray | None = None
    ) -> Recs:
        return rank(self.score(users, items), k, exclude, items)

    def similar_items(self, items: np.ndarray, k: int) -> Recs:
        assert self.net is not None, "fit or load the model first"
        return cosine_neighbours(to_numpy(self.item_vectors()), np.asarray(items), k)

    def save(self, path: Path) -> None:
        assert self.net is not None, "fit the model first"
        extra: dict[str, np.ndarray] = {}
        for side, blocks in (("user", self.user_blocks), ("item", self.item_blocks)):
            for b, rows in enumerate(blocks):
                extra.update(rows.arrays(f"{side}_features.{b}"))
        save_net(path, self.name, self.params, self.net, extra, n_users=self.n_users, n_items=self.n_items,
                 user_blocks=len(self.user_blocks), item_blocks=len(self.item_blocks), best_epoch=self.history.best_epoch)

    @classmethod
    def load(cls, path: Path) -> Self:
        params, arrays, manifest = load_arrays(path, cls.name, cls.Params)
        model = cls(params)
        model.n_users, model.n_items = int(manifest["n_users"]), int(manifest["n_items"])
        model.user_blocks = [SparseRows.from_arrays(arrays, f"user_features.{b}") for b in range(manifest["user_blocks"])]
        model.item_blocks = [SparseRows.from_arrays(arrays, f"item_features.{b}") for b in range(manifest["item_blocks"])]
        model.net = restore(model._build(), arrays)
        model.history.best_epoch = int(manifest.get("best_epoch", 0))
        return model
