"""The training loop every torch model shares: device, seeding, mini-batches, early stopping.

A model hands :func:`fit_epochs` its network, optimiser, a function that
draws one epoch's training examples (numpy arrays of equal length; negatives
are drawn here, from the seeded generator) and a loss over one mini-batch.
The loop shuffles, batches, steps, and after each epoch, when the data has a
valid window, measures NDCG@10 on it with the model's own ``recommend``
(seen train items excluded) and keeps the best weights. Training stops after
``patience`` epochs without improvement; without valid data it runs exactly
``epochs`` epochs.

After each epoch the loss (and valid NDCG@10 where measured) go to
:func:`recsys_cli.tracking.log_metrics` with the epoch as step, and a model
with an ``epoch_hook`` attribute (set by the tuner, for pruning) gets
``epoch_hook(epoch, score)``, where ``score()`` returns the epoch's valid
NDCG@10 (measured then, if early stopping did not already). A hook may raise
(``optuna.TrialPruned``) to end the fit.

Reproducibility: :func:`seeded` forks torch's RNG and seeds it, fixes the
thread count and turns on deterministic algorithms for the duration of a fit,
then puts everything back; examples come from ``np.random.default_rng(seed)``.
On CPU the same seed gives bit-identical scores.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch

from recsys_cli import tracking
from recsys_cli.errors import ConfigError
from recsys_cli.evaluation.metrics import metric_at
from recsys_cli.models.base import Recommender, TrainData
from recsys_cli.progress import progress_bar

VALID_METRIC = "ndcg@10"

Examples = tuple[np.ndarray, ...]


def resolve_device(name: str) -> torch.device:
    """``auto``: CUDA when available, else CPU; ``cuda`` without CUDA is a config error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("model.device: cuda was asked for but torch sees no CUDA device; use auto or cpu")
    return torch.device(name)


@contextmanager
def seeded(seed: int, device: torch.device, num_threads: int = 0) -> Iterator[None]:
    """Seed torch, fix the thread count and use deterministic kernels; restore all on exit."""
    threads = torch.get_num_threads()
    deterministic = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    cuda = device.type == "cuda"
    if cuda:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # deterministic cuBLAS
    with torch.random.fork_rng(devices=[device] if cuda else []):
        torch.manual_seed(seed)
        torch.set_num_threads(num_threads or threads)
        # on CUDA a few kernels (index_add, scatter) have no deterministic version: warn, don't fail
        torch.use_deterministic_algorithms(True, warn_only=cuda)
        try:
            yield
        finally:
            torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)
            torch.set_num_threads(threads)


def adam(net: torch.nn.Module, lr: float, weight_decay: float) -> torch.optim.Optimizer:
    """Adam with the fused kernel (one pass over each tensor; much faster on CPU, deterministic)."""
    return torch.optim.Adam(net.parameters(), lr=lr, weight_decay=weight_decay, fused=True)


def valid_users(data: TrainData) -> np.ndarray:
    """Users the valid score is measured on: a valid item and a train history."""
    if data.valid is None:
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero((np.diff(data.valid.indptr) > 0) & (np.diff(data.matrix.indptr) > 0))


def valid_score(model: Recommender, data: TrainData, users: np.ndarray, metric: str = VALID_METRIC) -> float:
    assert data.valid is not None
    return metric_at(model.recommend, users, data.valid, data.n_items, metric, exclude=data.matrix)


@dataclass
class History:
    """Per-epoch loss (and valid NDCG@10 where measured); ``best_epoch`` is 1-based."""

    loss: list[float] = field(default_factory=list)
    valid: list[float] = field(default_factory=list)
    best_epoch: int = 0

    @property
    def epochs(self) -> int:
        return len(self.loss)


def fit_epochs(
    model: Recommender,
    data: TrainData,
    net: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    examples: Callable[[np.random.Generator], Examples],
    loss: Callable[[tuple[torch.Tensor, ...]], torch.Tensor],
    *,
    epochs: int,
    patience: int | None,
    batch_size: int,
    device: torch.device,
    show_progress: bool = False,
    before_eval: Callable[[], None] = lambda: None,
) -> History:
    """Train ``net`` for up to ``epochs`` epochs; leave it holding the best weights.

    ``examples(rng)`` returns one epoch's arrays (row i of each is example i);
    they are shuffled and cut into mini-batches of ``batch_size`` rows, moved
    to ``device`` as tensors, and ``loss(batch)`` is minimised. Early
    stopping (``patience`` not None) needs ``data.valid``; ``before_eval``
    lets the model drop caches its scoring keeps before it is measured.
    """
    rng = np.random.default_rng(data.seed)
    users = valid_users(data) if patience is not None else np.zeros(0, dtype=np.int64)
    history = History()
    best_state: dict[str, torch.Tensor] | None = None
    best_score, since_best = -np.inf, 0
    with progress_bar(transient=True) as bar:
        epoch_task = bar.add_task(f"{model.name} epochs", total=epochs, visible=show_progress)
        batch_task = bar.add_task("  batches", total=None, visible=show_progress)
        for _ in range(epochs):
            net.train()
            arrays = examples(rng)
            n = len(arrays[0])
            order = rng.permutation(n)
            bar.reset(batch_task, total=max(1, -(-n // batch_size)))
            total, seen = 0.0, 0
            for start in range(0, n, batch_size):
                idx = order[start : start + batch_size]
                batch = tuple(torch.from_numpy(np.ascontiguousarray(a[idx])).to(device) for a in arrays)
                optimizer.zero_grad(set_to_none=True)
                value = loss(batch)
                value.backward()
                optimizer.step()
                total += float(value.detach()) * idx.size
                seen += idx.size
                bar.advance(batch_task)
            history.loss.append(total / max(seen, 1))
            net.eval()
            if users.size:
                before_eval()
                with torch.no_grad():
                    score = valid_score(model, data, users)
                history.valid.append(score)
                if score > best_score:
                    best_score, since_best = score, 0
                    history.best_epoch = history.epochs
                    best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
                else:
                    since_best += 1
                description = f"{model.name} epochs (loss {history.loss[-1]:.4f}, valid {VALID_METRIC} {score:.4f})"
            else:
                history.best_epoch = history.epochs
                description = f"{model.name} epochs (loss {history.loss[-1]:.4f})"
            bar.update(epoch_task, advance=1, description=description)
            _after_epoch(model, data, history, before_eval, measured=bool(users.size))
            if patience is not None and users.size and since_best >= patience:
                break
    if best_state is not None:
        net.load_state_dict(best_state)
    net.eval()
    before_eval()
    return history


def _after_epoch(
    model: Recommender, data: TrainData, history: History, before_eval: Callable[[], None], measured: bool
) -> None:
    """Log the epoch's loss and valid score; hand the model's ``epoch_hook`` the epoch and its score."""
    epoch = history.epochs
    metrics = {"loss": history.loss[-1]}
    if measured:
        metrics[f"valid_{VALID_METRIC.replace('@', '_at_')}"] = history.valid[-1]
    tracking.log_metrics(metrics, step=epoch)
    hook = getattr(model, "epoch_hook", None)
    if hook is None:
        return
    users = valid_users(data)
    if not users.size:
        return

    def score(metric: str = VALID_METRIC) -> float:
        if measured and metric == VALID_METRIC:  # already measured for early stopping
            return history.valid[-1]
        before_eval()
        with torch.no_grad():
            return valid_score(model, data, users, metric)

    hook(epoch, score)
