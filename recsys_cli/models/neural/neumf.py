"""NeuMF (He et al. 2017, neural collaborative filtering): GMF and MLP towers, fused.

GMF is the element-wise product of a user and an item embedding; the MLP
tower runs a second pair of embeddings, concatenated, through ``mlp_layers``
(ReLU). One linear layer over both gives the logit. Trained pointwise with
binary cross-entropy: every train pair is a positive, each with
``negatives`` uniformly drawn items the user has not interacted with,
redrawn every epoch.

Full-catalog scoring never loops over pairs: the GMF part is a dot product
of (user embedding * output weights) with the item embeddings, and the MLP's
first layer is split into a user and an item half (``scoring.pair_scores``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Literal, Self

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn

from recsys_cli.models.base import Recs, TrainData, rank
from recsys_cli.models.factors import cosine_neighbours
from recsys_cli.models.neural.loop import History, adam, fit_epochs, resolve_device, seeded
from recsys_cli.models.neural.sampling import pointwise
from recsys_cli.models.neural.scoring import mlp, pair_scores, to_numpy
from recsys_cli.models.neural.weights import restore, save_net
from recsys_cli.models.store import load_arrays
from recsys_cli.schema import bound


@dataclass
class NeuMFParams:
    factors: int = bound(64, ge=1)  # GMF size, and the MLP's user / item embedding size
    mlp_layers: list[int] = field(default_factory=lambda: [64, 32, 16], metadata={"ge": 1})
    negatives: int = bound(4, ge=1)  # sampled negatives per positive, redrawn each epoch
    lr: float = bound(0.002, gt=0.0)
    weight_decay: float = bound(0.0, ge=0.0)
    batch_size: int = bound(2048, ge=1)
    epochs: int = bound(20, ge=1)
    patience: int | None = bound(3, ge=1)  # epochs without valid NDCG@10 gain; null: no early stopping
    device: Literal["auto", "cpu", "cuda"] = "auto"
    num_threads: int = bound(0, ge=0)  # torch CPU threads; 0: torch's default


class NeuMFNet(nn.Module):
    def __init__(self, n_users: int, n_items: int, factors: int, layers: list[int]) -> None:
        super().__init__()
        self.factors = factors
        self.gmf_user = nn.Embedding(n_users, factors)
        self.gmf_item = nn.Embedding(n_items, factors)
        self.mlp_user = nn.Embedding(n_users, factors)
        self.mlp_item = nn.Embedding(n_items, factors)
        for emb in (self.gmf_user, self.gmf_item, self.mlp_user, self.mlp_item):
            nn.init.normal_(emb.weight, std=0.01)
        self.first_user = nn.Linear(factors, layers[0])  # first MLP layer, split by input half
        self.first_item = nn.Linear(factors, layers[0], bias=False)
        self.tower = mlp(layers)
        self.out = nn.Linear(factors + layers[-1], 1)

    def forward(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        gmf = self.gmf_user(users) * self.gmf_item(items)
        h = torch.relu(self.first_user(self.mlp_user(users)) + self.first_item(self.mlp_item(items)))
        return self.out(torch.cat([gmf, self.tower(h)], dim=-1)).squeeze(-1)

    def score_all(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        w = self.out.weight[0]
        gmf = (self.gmf_user(users) * w[: self.factors]) @ self.gmf_item(items).T
        user_h = self.first_user(self.mlp_user(users))
        item_h = self.first_item(self.mlp_item(items))
        deep = pair_scores(user_h, item_h, lambda h: self.tower(h) @ w[self.factors :, None])
        return gmf + deep + self.out.bias

    def item_vectors(self) -> torch.Tensor:
        return torch.cat([self.gmf_item.weight, self.mlp_item.weight], dim=1)


class NeuMF:
    name: ClassVar[str] = "neumf"
    Params: ClassVar[type] = NeuMFParams

    def __init__(self, params: NeuMFParams | None = None, show_progress: bool = False) -> None:
        self.params = params or NeuMFParams()
        self.show_progress = show_progress
        self.n_users = 0
        self.n_items = 0
        self.net: NeuMFNet | None = None
        self.device = torch.device("cpu")
        self.history = History()

    def _build(self, n_users: int, n_items: int) -> NeuMFNet:
        self.n_users, self.n_items = n_users, n_items
        return NeuMFNet(n_users, n_items, self.params.factors, self.params.mlp_layers)

    def fit(self, data: TrainData) -> Self:
        p = self.params
        self.device = resolve_device(p.device)
        binary = (data.matrix > 0).astype(np.float32).tocsr()
        with seeded(data.seed, self.device, p.num_threads):
            self.net = self._build(data.n_users, data.n_items).to(self.device)
            net = self.net
            optimizer = adam(net, p.lr, p.weight_decay)
            bce = nn.BCEWithLogitsLoss()
            self.history = fit_epochs(
                self, data, net, optimizer,
                examples=lambda rng: pointwise(binary, p.negatives, rng),
                loss=lambda b: bce(net(b[0], b[1]), b[2]),
                epochs=p.epochs, patience=p.patience, batch_size=p.batch_size,
                device=self.device, show_progress=self.show_progress,
            )
        return self

    def fitted_params(self) -> NeuMFParams:
        """The params with ``epochs`` = the best epoch and no early stopping (for a refit)."""
        return dataclasses.replace(self.params, epochs=self.history.best_epoch or self.params.epochs, patience=None)

    def score(self, users: np.ndarray, items: np.ndarray | None = None) -> np.ndarray:
        assert self.net is not None, "fit or load the model first"
        u = torch.as_tensor(np.asarray(users, dtype=np.int64), device=self.device)
        i = torch.arange(self.n_items, device=self.device) if items is None else torch.as_tensor(
            np.asarray(items, dtype=np.int64), device=self.device)
        with torch.no_grad():
            return to_numpy(self.net.score_all(u, i))

    def recommend(
        self, users: np.ndarray, k: int, exclude: sp.csr_matrix | None = None, items: np.ndarray | None = None
    ) -> Recs:
        return rank(self.score(users, items), k, exclude, items)

    def similar_items(self, items: np.ndarray, k: int) -> Recs:
        assert self.net is not None, "fit or load the model first"
        with torch.no_grad():
            return cosine_neighbours(to_numpy(self.net.item_vectors()), np.asarray(items), k)

    def save(self, path: Path) -> None:
        assert self.net is not None, "fit the model first"
        save_net(path, self.name, self.params, self.net, {}, n_users=self.n_users, n_items=self.n_items,
                 best_epoch=self.history.best_epoch)

    @classmethod
    def load(cls, path: Path) -> Self:
        params, arrays, manifest = load_arrays(path, cls.name, cls.Params)
        model = cls(params)
        model.net = restore(model._build(manifest["n_users"], manifest["n_items"]), arrays)
        model.history.best_epoch = int(manifest.get("best_epoch", 0))
        return model
