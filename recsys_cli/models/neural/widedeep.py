"""Wide & Deep (Cheng et al. 2016): a linear model over crossed features plus an MLP over embeddings.

- **Wide**: one weight per value pair of each categorical cross (user age
  band x item top category, user price band x item price band, favourite
  category x item category, activity hour band x item, ...), hashed crosses
  of the user's most-weighted train items x the candidate item (the
  paper's "installed app x impression app"), and an item bias. See
  ``crosses.py`` for what is built when features are present and the
  id-level crosses left when ``data.features`` is None.
- **Deep**: user id, item id, and the user's / item's one-hot side features
  (each a summed embedding), concatenated through ``layers`` (ReLU).
- **Context**: events carry time and device only at event time, which is
  unknown when ranking the catalog for a user; the model uses the user's most
  frequent 4-hour band of the day (and most used device, when the events have
  a ``device`` column) as *user* context, in the deep part's user features and
  in the wide crosses.

Both parts add to one logit, trained pointwise with binary cross-entropy:
every train pair is a positive with ``negatives`` sampled non-interacted
items, redrawn each epoch. In training, a positive item is masked out of its
own user's history cross (at ranking time seen items are excluded anyway).
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

from recsys_cli.features.side import SideMatrix
from recsys_cli.models.base import Recs, TrainData, rank
from recsys_cli.models.factors import cosine_neighbours
from recsys_cli.models.neural.crosses import Crosses, build_crosses, history, join_side, user_context
from recsys_cli.models.neural.loop import History, adam, fit_epochs, resolve_device, seeded
from recsys_cli.models.neural.sampling import pointwise
from recsys_cli.models.neural.scoring import mlp, pair_scores, to_numpy
from recsys_cli.models.neural.sparse import Projection, SparseRows
from recsys_cli.models.neural.weights import restore, save_net
from recsys_cli.models.store import load_arrays
from recsys_cli.schema import bound

HASH_A, HASH_B = 1_000_003, 998_244_353
HISTORY_CELLS = 1 << 22  # (user, history item, candidate) triples gathered at once when scoring


@dataclass
class WideDeepParams:
    factors: int = bound(32, ge=1)  # size of every deep embedding (ids and side features)
    layers: list[int] = field(default_factory=lambda: [64, 32], metadata={"ge": 1})
    history: int = bound(20, ge=0)  # user's train items crossed with the candidate (0: no history cross)
    buckets: int = bound(1 << 20, ge=1)  # hashed weights of the history cross
    negatives: int = bound(4, ge=1)
    lr: float = bound(0.005, gt=0.0)
    weight_decay: float = bound(0.0, ge=0.0)
    batch_size: int = bound(2048, ge=1)
    epochs: int = bound(20, ge=1)
    patience: int | None = bound(3, ge=1)  # epochs without valid NDCG@10 gain; null: no early stopping
    device: Literal["auto", "cpu", "cuda"] = "auto"
    num_threads: int = bound(0, ge=0)  # torch CPU threads; 0: torch's default


def history_bucket(hist: torch.Tensor, items: torch.Tensor, n_items: int, buckets: int) -> torch.Tensor:
    """Weight index of (history item, candidate item): exact when the pairs fit, else hashed."""
    if n_items * n_items <= buckets:
        return hist * n_items + items
    return torch.bitwise_xor(hist * HASH_A, items * HASH_B) % buckets


class WideDeepNet(nn.Module):
    def __init__(self, n_users: int, n_items: int, crosses: Crosses, hist: np.ndarray, user_cols: int,
                 item_cols: int, p: WideDeepParams) -> None:
        super().__init__()
        self.n_items, self.buckets = n_items, p.buckets
        # the wide inputs are buffers: they travel with the state dict and the device
        self.register_buffer("cross_user", torch.from_numpy(crosses.user))
        self.register_buffer("cross_item", torch.from_numpy(crosses.item))
        self.register_buffer("cross_width", torch.from_numpy(crosses.width))
        self.register_buffer("cross_offset", torch.from_numpy(crosses.offset))
        self.register_buffer("history", torch.from_numpy(hist))
        self.wide_cross = nn.Embedding(max(crosses.cells, 1), 1)
        self.wide_history = nn.Embedding(p.buckets, 1)
        self.item_bias = nn.Embedding(n_items, 1)
        for emb in (self.wide_cross, self.wide_history, self.item_bias):
            nn.init.zeros_(emb.weight)
        f = p.factors
        self.user_id = nn.Embedding(n_users, f)
        self.item_id = nn.Embedding(n_items, f)
        nn.init.normal_(self.user_id.weight, std=0.01)
        nn.init.normal_(self.item_id.weight, std=0.01)
        self.user_side = Projection(user_cols, f)
        self.item_side = Projection(item_cols, f)
        self.first_user = nn.Linear(2 * f, p.layers[0])  # first deep layer, split by input half
        self.first_item = nn.Linear(2 * f, p.layers[0], bias=False)
        self.tower = mlp(p.layers)
        self.out = nn.Linear(p.layers[-1], 1)

    # ----- deep
    def user_repr(self, users: torch.Tensor, side: SparseRows) -> torch.Tensor:
        return torch.cat([self.user_id(users), self.user_side(side, users.cpu().numpy(), users.device)], dim=1)

    def item_repr(self, items: torch.Tensor, side: SparseRows) -> torch.Tensor:
        return torch.cat([self.item_id(items), self.item_side(side, items.cpu().numpy(), items.device)], dim=1)

    # ----- wide
    def wide(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """Wide logit of pairs (users[k], items[k])."""
        out = self.item_bias(items).squeeze(-1)
        if self.cross_user.shape[0]:
            cells = self.cross_offset[:, None] + self.cross_user[:, users] * self.cross_width[:, None] + self.cross_item[:, items]
            out = out + self.wide_cross(cells).squeeze(-1).sum(0)
        if self.history.shape[1]:
            hist = self.history[users]
            keep = (hist >= 0) & (hist != items[:, None])
            cells = history_bucket(hist.clamp(min=0), items[:, None], self.n_items, self.buckets)
            out = out + (self.wide_history(cells).squeeze(-1) * keep).sum(1)
        return out

    def wide_all(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """Wide logits of every (user, item) pair -> (users, items)."""
        out = self.item_bias(items).squeeze(-1).expand(len(users), len(items)).clone()
        for c in range(self.cross_user.shape[0]):
            start, width = int(self.cross_offset[c]), int(self.cross_width[c])
            rows = int(self.cross_user[c].max()) + 1
            table = self.wide_cross.weight[start : start + rows * width, 0].view(rows, width)
            out += table[self.cross_user[c, users]][:, self.cross_item[c, items]]
        length = self.history.shape[1]
        if length:
            chunk = max(1, HISTORY_CELLS // max(1, length * len(items)))
            for start in range(0, len(users), chunk):
                hist = self.history[users[start : start + chunk]][:, :, None]  # (u, h, 1)
                keep = (hist >= 0) & (hist != items[None, None, :])
                cells = history_bucket(hist.clamp(min=0), items[None, None, :], self.n_items, self.buckets)
                out[start : start + chunk] += (self.wide_history.weight[cells, 0] * keep).sum(1)
        return out

    def forward(self, users: torch.Tensor, items: torch.Tensor, user_side: SparseRows, item_side: SparseRows) -> torch.Tensor:
        h = torch.relu(self.first_user(self.user_repr(users, user_side)) + self.first_item(self.item_repr(items, item_side)))
        return self.out(self.tower(h)).squeeze(-1) + self.wide(users, items)

    def score_all(self, users: torch.Tensor, items: torch.Tensor, user_side: SparseRows, item_side: SparseRows) -> torch.Tensor:
        user_h = self.first_user(self.user_repr(users, user_side))
        item_h = self.first_item(self.item_repr(items, item_side))
        return pair_scores(user_h, item_h, lambda h: self.out(self.tower(h))) + self.wide_all(users, items)


class WideDeep:
    name: ClassVar[str] = "widedeep"
    Params: ClassVar[type] = WideDeepParams

    def __init__(self, params: WideDeepParams | None = None, show_progress: bool = False) -> None:
        self.params = params or WideDeepParams()
        self.show_progress = show_progress
        self.n_users = 0
        self.n_items = 0
        self.user_side = SparseRows.of(None, 0)
        self.item_side = SparseRows.of(None, 0)
        self.crosses: list[str] = []
        self.net: WideDeepNet | None = None
        self.device = torch.device("cpu")
        self.history = History()

    def fit(self, data: TrainData) -> Self:
        p = self.params
        self.device = resolve_device(p.device)
        self.n_users, self.n_items = data.n_users, data.n_items
        features = data.features
        user_side = join_side(features.user_side if features is not None else None, user_context(data.events, data.n_users))
        item_side = features.item_side if features is not None else SideMatrix(
            sp.csr_matrix((data.n_items, 0), dtype=np.float32), np.array([], dtype=str))
        self.user_side = SparseRows.of(user_side.matrix, data.n_users)
        self.item_side = SparseRows.of(item_side.matrix, data.n_items)
        crosses = build_crosses(user_side, item_side, data.n_users, data.n_items)
        self.crosses = crosses.names
        binary = (data.matrix > 0).astype(np.float32).tocsr()
        hist = history(data.matrix, p.history)
        with seeded(data.seed, self.device, p.num_threads):
            self.net = net = WideDeepNet(data.n_users, data.n_items, crosses, hist, self.user_side.columns,
                                         self.item_side.columns, p).to(self.device)
            optimizer = adam(net, p.lr, p.weight_decay)
            bce = nn.BCEWithLogitsLoss()
            self.history = fit_epochs(
                self, data, net, optimizer,
                examples=lambda rng: pointwise(binary, p.negatives, rng),
                loss=lambda b: bce(net(b[0], b[1], self.user_side, self.item_side), b[2]),
                epochs=p.epochs, patience=p.patience, batch_size=p.batch_size,
                device=self.device, show_progress=self.show_progress,
            )
        return self

    def fitted_params(self) -> WideDeepParams:
        """The params with ``epochs`` = the best epoch and no early stopping (for a refit)."""
        return dataclasses.replace(self.params, epochs=self.history.best_epoch or self.params.epochs, patience=None)

    def score(self, users: np.ndarray, items: np.ndarray | None = None) -> np.ndarray:
        assert self.net is not None, "fit or load the model first"
        u = torch.as_tensor(np.asarray(users, dtype=np.int64), device=self.device)
        i = torch.arange(self.n_items, device=self.device) if items is None else torch.as_tensor(
            np.asarray(items, dtype=np.int64), device=self.device)
        with torch.no_grad():
            return to_numpy(self.net.score_all(u, i, self.user_side, self.item_side))

    def recommend(
        self, users: np.ndarray, k: int, exclude: sp.csr_matrix | None = None, items: np.ndarray | None = None
    ) -> Recs:
        return rank(self.score(users, items), k, exclude, items)

    def similar_items(self, items: np.ndarray, k: int) -> Recs:
        """Cosine of the items' deep representations (id embedding + side features)."""
        assert self.net is not None, "fit or load the model first"
        with torch.no_grad():
            vectors = self.net.item_repr(torch.arange(self.n_items, device=self.device), self.item_side)
            return cosine_neighbours(to_numpy(vectors), np.asarray(items), k)

    def save(self, path: Path) -> None:
        assert self.net is not None, "fit the model first"
        extra = {**self.user_side.arrays("user_side"), **self.item_side.arrays("item_side")}
        save_net(path, self.name, self.params, self.net, extra, n_users=self.n_users, n_items=self.n_items,
                 crosses=self.crosses, best_epoch=self.history.best_epoch)

    @classmethod
    def load(cls, path: Path) -> Self:
        params, arrays, manifest = load_arrays(path, cls.name, cls.Params)
        model = cls(params)
        model.n_users, model.n_items = int(manifest["n_users"]), int(manifest["n_items"])
        model.user_side = SparseRows.from_arrays(arrays, "user_side")
        model.item_side = SparseRows.from_arrays(arrays, "item_side")
        model.crosses = list(manifest.get("crosses", []))
        offsets = arrays["net.cross_offset"]
        cells = int(arrays["net.wide_cross.weight"].shape[0]) if offsets.size else 0
        crosses = Crosses(arrays["net.cross_user"], arrays["net.cross_item"], arrays["net.cross_width"], offsets,
                          cells, model.crosses)
        net = WideDeepNet(model.n_users, model.n_items, crosses, arrays["net.history"], model.user_side.columns,
                          model.item_side.columns, params)
        model.net = restore(net, arrays)
        model.history.best_epoch = int(manifest.get("best_epoch", 0))
        return model
