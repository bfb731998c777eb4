"""The export bundle: model + fallback + id maps + catalog + config + manifest.

The one artifact the service loads. Every file's sha256 is in
``manifest.json`` and is checked on load; arrays load without pickle.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import polars as pl

from recsys_cli import __version__
from recsys_cli.atomic import atomic_dir
from recsys_cli.data.ids import IdMap, load_ids
from recsys_cli.manifest import read_manifest, write_manifest
from recsys_cli.models import Recommender, load_model

FORMAT = "recsys-bundle/1"


def write_bundle(
    dest: Path,
    model_dir: Path,
    ids_file: Path,
    catalog: pl.DataFrame,
    extra_files: dict[str, Path],
    info: dict[str, Any],
) -> dict[str, Any]:
    with atomic_dir(dest) as tmp:
        shutil.copytree(model_dir / "model", tmp / "model")
        shutil.copytree(model_dir / "fallback", tmp / "fallback")
        shutil.copy2(ids_file, tmp / "ids.npz")
        catalog.write_parquet(tmp / "catalog.parquet")
        for name, path in extra_files.items():
            if path.is_file():
                shutil.copy2(path, tmp / name)
        return write_manifest(
            tmp,
            {
                "format": FORMAT,
                "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "recsys_version": __version__,
                **info,
            },
        )


@dataclass
class Bundle:
    path: Path
    manifest: dict[str, Any]
    model: Recommender
    fallback: Recommender
    users: IdMap
    items: IdMap
    catalog: pl.DataFrame


def read_bundle(path: Path) -> Bundle:
    """Load a bundle, verifying every checksum first."""
    path = Path(path)
    manifest = read_manifest(path, verify=True)
    users, items = load_ids(path / "ids.npz")
    return Bundle(
        path=path,
        manifest=manifest,
        model=load_model(path / "model"),
        fallback=load_model(path / "fallback"),
        users=users,
        items=items,
        catalog=pl.read_parquet(path / "catalog.parquet"),
    )
