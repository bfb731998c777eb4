"""Manifests (sha256 of every file) and the export bundle that relies on them."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import scipy.sparse as sp

from recsys_cli.bundle import FORMAT, read_bundle, write_bundle
from recsys_cli.data.ids import IdMap, save_ids
from recsys_cli.errors import RecsysError
from recsys_cli.manifest import MANIFEST, read_manifest, write_manifest
from recsys_cli.models.base import TrainData
from recsys_cli.models.popularity import Popularity, PopularityParams


def _artifact(directory: Path) -> dict[str, bytes]:
    files = {
        "a.txt": b"alpha\n",
        "data.bin": bytes(range(256)) * 10,
        "sub/b.json": b'{"k": 1}\n',
    }
    for name, content in files.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return files


# ------------------------------------------------------------------- manifest


def test_manifest_round_trip(tmp_path: Path) -> None:
    files = _artifact(tmp_path)
    written = write_manifest(tmp_path, {"format": "test/1", "n": 3})
    read = read_manifest(tmp_path, verify=True)
    assert read == written
    assert read["format"] == "test/1" and read["n"] == 3
    assert read["files"] == {name: hashlib.sha256(content).hexdigest() for name, content in files.items()}
    assert MANIFEST not in read["files"]
    assert json.loads((tmp_path / MANIFEST).read_text()) == written


def test_a_modified_file_fails_the_checksum(tmp_path: Path) -> None:
    _artifact(tmp_path)
    write_manifest(tmp_path, {})
    (tmp_path / "sub" / "b.json").write_bytes(b'{"k": 2}\n')  # same size, other content
    with pytest.raises(RecsysError, match="checksum") as info:
        read_manifest(tmp_path, verify=True)
    assert "b.json" in str(info.value)
    # without verification the manifest still reads
    assert "sub/b.json" in read_manifest(tmp_path, verify=False)["files"]


def test_a_missing_file_is_an_error(tmp_path: Path) -> None:
    _artifact(tmp_path)
    write_manifest(tmp_path, {})
    (tmp_path / "a.txt").unlink()
    with pytest.raises(RecsysError, match="missing") as info:
        read_manifest(tmp_path, verify=True)
    assert "a.txt" in str(info.value)


def test_a_directory_without_a_manifest_is_an_error(tmp_path: Path) -> None:
    _artifact(tmp_path)
    with pytest.raises(RecsysError, match=MANIFEST):
        read_manifest(tmp_path)
    with pytest.raises(RecsysError):
        read_manifest(tmp_path / "nowhere", verify=False)


def test_rewriting_a_manifest_does_not_list_itself(tmp_path: Path) -> None:
    _artifact(tmp_path)
    write_manifest(tmp_path, {"v": 1})
    second = write_manifest(tmp_path, {"v": 2})
    assert set(second["files"]) == {"a.txt", "data.bin", "sub/b.json"}
    assert read_manifest(tmp_path)["v"] == 2


# --------------------------------------------------------------------- bundle


DENSE = np.array([[1, 0, 2], [0, 0, 1], [3, 0, 1], [0, 1, 0]], dtype=np.float32)


@pytest.fixture()
def bundle_dir(tmp_path: Path) -> Path:
    matrix = sp.csr_matrix(DENSE)
    model_dir = tmp_path / "models" / "popularity"
    Popularity(PopularityParams(by="weight")).fit(TrainData(matrix=matrix)).save(model_dir / "model")
    Popularity().fit(TrainData(matrix=matrix)).save(model_dir / "fallback")
    users = IdMap([f"u{k}" for k in range(4)])
    items = IdMap(["p0", "p1", "p2"])
    save_ids(tmp_path / "ids.npz", users, items)
    (tmp_path / "report.json").write_text('{"ndcg@10": 0.5}\n')
    catalog = pl.DataFrame({"item_id": items.ids.tolist(), "title": ["A", "B", "C"]})
    dest = tmp_path / "bundle"
    write_bundle(
        dest, model_dir, tmp_path / "ids.npz", catalog,
        extra_files={"report.json": tmp_path / "report.json", "absent.json": tmp_path / "absent.json"},
        info={"model": "popularity"},
    )
    return dest


def test_bundle_round_trip(bundle_dir: Path) -> None:
    bundle = read_bundle(bundle_dir)
    assert bundle.manifest["format"] == FORMAT
    assert bundle.manifest["model"] == "popularity"
    listed = set(bundle.manifest["files"])
    assert {"ids.npz", "catalog.parquet", "report.json", "model/arrays.npz", "fallback/arrays.npz"} <= listed
    assert "absent.json" not in listed
    assert bundle.users.ids.tolist() == ["u0", "u1", "u2", "u3"]
    assert bundle.catalog["title"].to_list() == ["A", "B", "C"]
    # the models come back as fitted: summed weight per item, and distinct users per item
    np.testing.assert_allclose(bundle.model.item_scores, DENSE.sum(axis=0))
    np.testing.assert_allclose(bundle.fallback.item_scores, (DENSE > 0).sum(axis=0))
    assert [p.name for p in bundle_dir.parent.iterdir() if p.name.startswith(".bundle")] == []


def test_a_tampered_bundle_does_not_load(bundle_dir: Path) -> None:
    path = bundle_dir / "catalog.parquet"
    pl.DataFrame({"item_id": ["p0", "p1", "p2"], "title": ["A", "B", "X"]}).write_parquet(path)
    with pytest.raises(RecsysError, match="checksum"):
        read_bundle(bundle_dir)


def test_a_bundle_missing_a_file_does_not_load(bundle_dir: Path) -> None:
    shutil.rmtree(bundle_dir / "fallback")
    with pytest.raises(RecsysError, match="missing"):
        read_bundle(bundle_dir)
