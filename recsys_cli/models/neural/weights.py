"""A network's weights in the model directory: its state dict as CPU numpy arrays.

Weights go into the same ``arrays.npz`` + checksummed manifest as every other
model (``recsys_cli.models.store``), under ``net.<key>``; whatever else the
model needs to score (its train rows, feature matrices) sits beside them
under other names. Loading rebuilds the module from the params and copies
the arrays in with ``torch.from_numpy`` -- no pickle is ever read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from recsys_cli.models.store import save_arrays

PREFIX = "net."


def save_net(path: Path, name: str, params: Any, net: nn.Module, extra: dict[str, np.ndarray], **info: Any) -> None:
    arrays = {PREFIX + k: v.detach().to("cpu").numpy() for k, v in net.state_dict().items()}
    save_arrays(path, name, params, {**arrays, **extra}, **info)


def restore(net: nn.Module, arrays: dict[str, np.ndarray]) -> nn.Module:
    """Copy the ``net.`` arrays into ``net`` (strict: every key must match)."""
    state = {k[len(PREFIX):]: torch.from_numpy(np.array(v)) for k, v in arrays.items() if k.startswith(PREFIX)}
    net.load_state_dict(state, strict=True)
    return net.eval()
