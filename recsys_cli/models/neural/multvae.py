"""Mult-VAE and Mult-DAE (Liang et al. 2018, variational autoencoders for collaborative filtering).

A user is their binary train row. The row is L2-normalised, dropped out
(``dropout`` on its non-zeros, training only) and encoded through ``hidden`` (tanh) to a
``latent``-sized code; the decoder mirrors the encoder back to one logit per
item, and the loss is the multinomial log-likelihood of the row under the
softmax of those logits.

- ``variant: vae`` encodes a Gaussian (mean, log-variance), samples the code
  with the reparameterisation trick and adds ``beta`` x KL to the standard
  normal prior; ``beta`` rises linearly from 0 to ``beta_max`` over
  ``total_anneal_steps`` optimiser steps (KL annealing). Scoring uses the mean.
- ``variant: dae`` is the denoising autoencoder: a deterministic (tanh) code,
  no KL term; ``weight_decay`` regularises it.

Scoring needs the user's row, so the train rows are part of the saved model
(CSR arrays) and ``load`` reproduces ``score`` exactly. A user with an empty
row is encoded from the zero vector: the decoder's answer for "nothing
known", a learned popularity-like prior.
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

from recsys_cli.models.base import Recs, TrainData, rank, row_batch
from recsys_cli.models.factors import cosine_neighbours
from recsys_cli.models.neural.loop import History, adam, fit_epochs, resolve_device, seeded
from recsys_cli.models.neural.scoring import to_numpy
from recsys_cli.models.neural.weights import restore, save_net
from recsys_cli.models.store import load_arrays
from recsys_cli.schema import bound

SCORE_BATCH = 2048  # users encoded at once when scoring


@dataclass
class MultVAEParams:
    variant: Literal["vae", "dae"] = "vae"
    hidden: list[int] = field(default_factory=lambda: [600], metadata={"ge": 1})  # encoder; decoder mirrors it
    latent: int = bound(200, ge=1)
    dropout: float = bound(0.5, ge=0.0, lt=1.0)  # on the input row
    beta_max: float = bound(0.2, ge=0.0)  # vae: KL weight reached after annealing
    total_anneal_steps: int = bound(2000, ge=0)  # vae: optimiser steps from beta 0 to beta_max (0: beta_max at once)
    lr: float = bound(0.001, gt=0.0)
    weight_decay: float = bound(0.0, ge=0.0)
    batch_size: int = bound(256, ge=1)
    epochs: int = bound(200, ge=1)
    patience: int | None = bound(20, ge=1)  # epochs without valid NDCG@10 gain; null: no early stopping
    device: Literal["auto", "cpu", "cuda"] = "auto"
    num_threads: int = bound(0, ge=0)  # torch CPU threads; 0: torch's default


class MultVAENet(nn.Module):
    """Encoder and decoder; the first layer reads the sparse row as a weighted bag of items."""

    def __init__(self, n_items: int, hidden: list[int], latent: int, dropout: float, variational: bool) -> None:
        super().__init__()
        self.variational = variational
        self.dropout = dropout
        sizes = [*hidden, 2 * latent if variational else latent]
        self.first = nn.EmbeddingBag(n_items, sizes[0], mode="sum")  # Linear(n_items, sizes[0]) on a sparse row
        self.first_bias = nn.Parameter(torch.empty(sizes[0]))
        self.encoder = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:], strict=True))
        back = [latent, *reversed(hidden), n_items]
        self.decoder = nn.ModuleList(nn.Linear(a, b) for a, b in zip(back[:-1], back[1:], strict=True))
        nn.init.xavier_uniform_(self.first.weight)
        nn.init.normal_(self.first_bias, std=0.001)
        for layer in [*self.encoder, *self.decoder]:
            nn.init.xavier_uniform_(layer.weight)
            nn.init.normal_(layer.bias, std=0.001)

    def forward(self, rows: tuple[torch.Tensor, torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits per item and the KL term (0 for the DAE) of L2-normalised rows (a bag)."""
        indices, offsets, weights = rows
        weights = F.dropout(weights, self.dropout, self.training)  # input dropout, on the non-zeros only
        h = self.first(indices, offsets, per_sample_weights=weights) + self.first_bias
        for layer in self.encoder:
            h = layer(torch.tanh(h))
        if self.variational:
            mu, logvar = h.chunk(2, dim=1)
            z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar) if self.training else mu
            kl = (-0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp(), dim=1)).mean()
        else:
            z, kl = torch.tanh(h), torch.zeros((), device=h.device)
        for layer in self.decoder[:-1]:
            z = torch.tanh(layer(z))
        return self.decoder[-1](z), kl

    def item_vectors(self) -> torch.Tensor:
        return self.decoder[-1].weight


class MultVAE:
    name: ClassVar[str] = "multvae"
    Params: ClassVar[type] = MultVAEParams

    def __init__(self, params: MultVAEParams | None = None, show_progress: bool = False) -> None:
        self.params = params or MultVAEParams()
        self.show_progress = show_progress
        self.n_users = 0
        self.n_items = 0
        self.rows = sp.csr_matrix((0, 0), dtype=np.float32)  # binary train rows: what a user is scored from
        self.net: MultVAENet | None = None
        self.device = torch.device("cpu")
        self.history = History()
        self.steps = 0

    def _build(self, n_items: int) -> MultVAENet:
        p = self.params
        return MultVAENet(n_items, p.hidden, p.latent, p.dropout, variational=p.variant == "vae")

    def _bag(self, users: np.ndarray, rows: sp.csr_matrix | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The users' rows (of ``rows``, default the train rows), L2-normalised, as (indices, offsets, weights)."""
        sub = (self.rows if rows is None else rows)[users]
        counts = np.diff(sub.indptr)
        weights = np.repeat(1.0 / np.sqrt(np.maximum(counts, 1)), counts).astype(np.float32)
        return (
            torch.from_numpy(sub.indices.astype(np.int64)).to(self.device),
            torch.from_numpy(sub.indptr[:-1].astype(np.int64)).to(self.device),
            torch.from_numpy(weights).to(self.device),
        )

    def _loss(self, users: torch.Tensor) -> torch.Tensor:
        assert self.net is not None
        p = self.params
        indices, offsets, _ = bag = self._bag(users.cpu().numpy())
        logits, kl = self.net(bag)
        counts = torch.diff(offsets, append=torch.tensor([indices.numel()], device=offsets.device))
        owner = torch.repeat_interleave(torch.arange(len(offsets), device=offsets.device), counts)
        nll = -F.log_softmax(logits, dim=1)[owner, indices].sum() / len(offsets)  # multinomial log-likelihood
        self.steps += 1
        if p.variant == "dae":
            return nll
        beta = p.beta_max if p.total_anneal_steps == 0 else min(p.beta_max, self.steps / p.total_anneal_steps)
        return nll + beta * kl

    def fit(self, data: TrainData) -> Self:
        p = self.params
        self.device = resolve_device(p.device)
        self.n_users, self.n_items = data.n_users, data.n_items
        self.rows = (data.matrix > 0).astype(np.float32).tocsr()
        self.rows.sort_indices()
        active = np.flatnonzero(np.diff(self.rows.indptr) > 0)
        self.steps = 0
        with seeded(data.seed, self.device, p.num_threads):
            self.net = self._build(self.n_items).to(self.device)
            optimizer = adam(self.net, p.lr, p.weight_decay)
            self.history = fit_epochs(
                self, data, self.net, optimizer,
                examples=lambda rng: (active,),
                loss=lambda b: self._loss(b[0]),
                epochs=p.epochs, patience=p.patience, batch_size=p.batch_size,
                device=self.device, show_progress=self.show_progress,
            )
        return self

    def fitted_params(self) -> MultVAEParams:
        """The params with ``epochs`` = the best epoch and no early stopping (for a refit)."""
        return dataclasses.replace(self.params, epochs=self.history.best_epoch or self.params.epochs, patience=None)

    def score(self, users: np.ndarray, items: np.ndarray | None = None, rows: sp.csr_matrix | None = None) -> np.ndarray:
        assert self.net is not None, "fit or load the model first"
        users = np.asarray(users, dtype=np.int64)
        cols = None if items is None else torch.as_tensor(np.asarray(items, dtype=np.int64), device=self.device)
        out = []
        step = row_batch(self.n_items, SCORE_BATCH)
        with torch.no_grad():
            for start in range(0, users.size, step):
                logits, _ = self.net(self._bag(users[start : start + step], rows))
                out.append(to_numpy(logits if cols is None else logits[:, cols]))
        width = self.n_items if items is None else len(items)
        return np.concatenate(out) if out else np.zeros((0, width), dtype=np.float32)

    def recommend(
        self, users: np.ndarray, k: int, exclude: sp.csr_matrix | None = None, items: np.ndarray | None = None
    ) -> Recs:
        return rank(self.score(users, items), k, exclude, items)

    def score_history(self, rows: sp.csr_matrix, items: np.ndarray | None = None) -> np.ndarray:
        """Fold in new users: encode their (binarised) history rows, as for any user."""
        binary = (sp.csr_matrix(rows) > 0).astype(np.float32).tocsr()
        binary.sort_indices()
        return self.score(np.arange(binary.shape[0]), items, rows=binary)

    def similar_items(self, items: np.ndarray, k: int) -> Recs:
        assert self.net is not None, "fit or load the model first"
        with torch.no_grad():
            return cosine_neighbours(to_numpy(self.net.item_vectors()), np.asarray(items), k)

    def save(self, path: Path) -> None:
        assert self.net is not None, "fit the model first"
        rows = {"rows.indptr": self.rows.indptr.astype(np.int64), "rows.indices": self.rows.indices.astype(np.int64)}
        save_net(path, self.name, self.params, self.net, rows, n_users=self.n_users, n_items=self.n_items,
                 best_epoch=self.history.best_epoch)

    @classmethod
    def load(cls, path: Path) -> Self:
        params, arrays, manifest = load_arrays(path, cls.name, cls.Params)
        model = cls(params)
        model.n_users, model.n_items = int(manifest["n_users"]), int(manifest["n_items"])
        indices = arrays["rows.indices"]
        model.rows = sp.csr_matrix(
            (np.ones(indices.size, dtype=np.float32), indices, arrays["rows.indptr"]), shape=(model.n_users, model.n_items)
        )
        model.net = restore(model._build(model.n_items), arrays)
        model.history.best_epoch = int(manifest.get("best_epoch", 0))
        return model
