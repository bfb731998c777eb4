"""Scoring every user x item pair through an MLP without scoring pairs one by one.

An MLP over ``concat(user_part, item_part)`` has a first layer that splits
into ``W_u @ user_part + W_i @ item_part``: computed once per user and once
per item, then added for every pair. Only the (small) later layers run per
pair, in chunks of users that bound memory.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

PAIR_CELLS = 1 << 23  # hidden activations held at once (~32 MB of float32)


def mlp(sizes: list[int], dropout: float = 0.0) -> nn.Sequential:
    """Linear layers between consecutive ``sizes``, ReLU (and dropout) after each."""
    layers: list[nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:], strict=True):
        layers += [nn.Linear(a, b), nn.ReLU()]
        if dropout:
            layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


def pair_scores(
    user_h: torch.Tensor, item_h: torch.Tensor, rest: Callable[[torch.Tensor], torch.Tensor]
) -> torch.Tensor:
    """``rest(relu(user_h[u] + item_h[i]))`` for every pair -> (users, items).

    ``user_h`` (users x h) already holds the first layer's bias; ``rest`` maps
    (..., h) activations to (..., 1) scores.
    """
    n_users, hidden = user_h.shape
    n_items = item_h.shape[0]
    chunk = max(1, PAIR_CELLS // max(1, n_items * hidden))
    out = torch.empty(n_users, n_items, device=user_h.device)
    for start in range(0, n_users, chunk):
        h = torch.relu(user_h[start : start + chunk, None, :] + item_h[None, :, :])
        out[start : start + chunk] = rest(h).squeeze(-1)
    return out


def to_numpy(scores: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(scores.detach().to("cpu", torch.float32).numpy())
