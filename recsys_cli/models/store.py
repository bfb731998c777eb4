"""Save and load a model as a directory: ``arrays.npz`` + ``manifest.json``.

The manifest names the model, its params (JSON) and the sha256 of every file;
arrays load with ``allow_pickle=False``. No pickles, ever.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from recsys_cli import __version__
from recsys_cli.errors import RecsysError
from recsys_cli.manifest import read_manifest, write_manifest
from recsys_cli.schema import from_dict, to_dict

ARRAYS = "arrays.npz"


def save_arrays(path: Path, name: str, params: Any, arrays: dict[str, np.ndarray], **info: Any) -> None:
    """Write ``arrays`` and a manifest into directory ``path`` (created if needed)."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    with open(path / ARRAYS, "wb") as fh:
        np.savez(fh, **arrays)
    write_manifest(
        path,
        {"model": name, "params": to_dict(params), "recsys_version": __version__, **info},
    )


def load_arrays(path: Path, name: str, params_cls: type) -> tuple[Any, dict[str, np.ndarray], dict[str, Any]]:
    """Params, arrays and manifest of a model saved by :func:`save_arrays`."""
    manifest = read_manifest(Path(path))
    if manifest.get("model") != name:
        raise RecsysError(f"{path}: holds model {manifest.get('model')!r}, not {name!r}")
    params = from_dict(params_cls, manifest.get("params", {}), where=f"{path}/manifest.json params")
    with np.load(Path(path) / ARRAYS, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    return params, arrays, manifest


def replace_params(params: Any, **changes: Any) -> Any:
    return dataclasses.replace(params, **changes)
