"""Save and load a model as a directory: ``arrays.npz`` + ``manifest.json``.

The manifest names the model, its params (JSON) and the sha256 of every file;
arrays load with ``allow_pickle=False``. No pickles, ever.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from contextlib import contextmanager
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
    return params, read_arrays(Path(path) / ARRAYS), manifest


_MAP = threading.local()


@contextmanager
def memory_mapped() -> Iterator[None]:
    """Inside this block, models load their arrays memory-mapped, read-only (the serving path).

    Several server processes then share one copy of the bundle's pages; the
    arrays are never written to (scores are computed into new arrays).
    """
    before = getattr(_MAP, "on", False)
    _MAP.on = True
    try:
        yield
    finally:
        _MAP.on = before


def read_arrays(path: Path) -> dict[str, np.ndarray]:
    """The arrays of an ``.npz`` (no pickle); memory-mapped inside :func:`memory_mapped` where stored uncompressed."""
    if getattr(_MAP, "on", False):
        mapped = _mmap_npz(path)
        if mapped is not None:
            return mapped
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def _mmap_npz(path: Path) -> dict[str, np.ndarray] | None:
    """Memory-map every member of an uncompressed ``.npz`` (np.savez); None if any member cannot be."""
    import struct
    import zipfile

    out: dict[str, np.ndarray] = {}
    with zipfile.ZipFile(path) as zf, open(path, "rb") as fh:
        for info in zf.infolist():
            if info.compress_type != zipfile.ZIP_STORED or not info.filename.endswith(".npy"):
                return None
            fh.seek(info.header_offset)
            header = fh.read(30)
            if header[:4] != b"PK\x03\x04":
                return None
            name_len, extra_len = struct.unpack("<HH", header[26:30])
            start = info.header_offset + 30 + name_len + extra_len
            fh.seek(start)
            version = np.lib.format.read_magic(fh)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
            elif version == (2, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
            else:
                return None
            if dtype.hasobject:
                return None
            offset = fh.tell()
            key = info.filename[:-4]
            if int(np.prod(shape)) == 0:
                out[key] = np.zeros(shape, dtype=dtype)
                continue
            out[key] = np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape,
                                 order="F" if fortran else "C")
    return out


def replace_params(params: Any, **changes: Any) -> Any:
    return dataclasses.replace(params, **changes)
