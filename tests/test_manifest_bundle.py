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

from recsys_cli.bundle import FORMAT, BundleParts, history_from_events, read_bundle, write_bundle
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


def test_nested_manifests_are_covered_and_extra_files_refused(tmp_path: Path) -> None:
    _artifact(tmp_path)
    write_manifest(tmp_path / "sub", {"inner": True})  # a model's own manifest inside the artifact
    outer = write_manifest(tmp_path, {})
    assert "sub/manifest.json" in outer["files"]
    (tmp_path / "sub" / MANIFEST).write_text('{"files": {}}\n')  # a swapped inner manifest is an altered file
    with pytest.raises(RecsysError, match="sub/manifest.json: checksum mismatch"):
        read_manifest(tmp_path, verify=True)
    write_manifest(tmp_path, {})
    (tmp_path / "sub" / "planted.py").write_text("import os\n")
    with pytest.raises(RecsysError, match="planted.py: not listed in"):
        read_manifest(tmp_path, verify=True)


@pytest.mark.parametrize("name", ["../outside.txt", "/etc/passwd", "sub/../../x", "a\\b", ""])
def test_a_manifest_naming_a_path_outside_its_directory_is_refused(tmp_path: Path, name: str) -> None:
    _artifact(tmp_path)
    (tmp_path / MANIFEST).write_text(json.dumps({"files": {name: "0" * 64}}))
    with pytest.raises(RecsysError, match="not a plain relative path"):
        read_manifest(tmp_path, verify=True)


def test_a_manifest_that_is_not_json_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / MANIFEST).write_bytes(b"\xff\xfe{garbage")
    with pytest.raises(RecsysError, match="not valid JSON"):
        read_manifest(tmp_path, verify=True)


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
    events = pl.DataFrame({
        "user_idx": [0, 0, 1, 2, 2, 3], "item_idx": [0, 2, 2, 0, 2, 1],
        "event": ["view", "purchase", "add_to_cart", "view", "view", "view"],
        "timestamp": pl.Series([1, 2, 3, 4, 5, 6]).cast(pl.Datetime("ms")),
    })
    dest = tmp_path / "bundle"
    write_bundle(dest, BundleParts(
        model_dir=model_dir, ids_file=tmp_path / "ids.npz", catalog=catalog, users=None,
        history=history_from_events(events, 4, 3, np.array([0, 1, 2])),
        info={"model": "popularity"},
        extra_files={"report.json": tmp_path / "report.json", "absent.json": tmp_path / "absent.json"},
    ))
    return dest


def test_bundle_round_trip(bundle_dir: Path) -> None:
    bundle = read_bundle(bundle_dir)
    assert bundle.manifest["format"] == FORMAT
    assert bundle.manifest["model"] == "popularity"
    listed = set(bundle.manifest["files"])
    assert {"ids.npz", "catalog.parquet", "report.json", "model/arrays.npz", "fallback/arrays.npz",
            "model/manifest.json", "fallback/manifest.json", "history.npz"} <= listed
    assert "absent.json" not in listed
    assert bundle.users.ids.tolist() == ["u0", "u1", "u2", "u3"]
    assert bundle.catalog["title"].to_list() == ["A", "B", "C"]
    # the models come back as fitted: summed weight per item, and distinct users per item
    np.testing.assert_allclose(bundle.model.item_scores, DENSE.sum(axis=0))
    np.testing.assert_allclose(bundle.fallback.item_scores, (DENSE > 0).sum(axis=0))
    # the history: per pair the strongest event, and who is known
    assert bundle.history.matrix.toarray().tolist() == [[1, 0, 3], [0, 0, 2], [1, 0, 1], [0, 1, 0]]
    assert bundle.history.known.tolist() == [True, True, True, False]
    assert [p.name for p in bundle_dir.parent.iterdir() if p.name.startswith(".bundle")] == []


def test_a_tampered_bundle_does_not_load(bundle_dir: Path) -> None:
    path = bundle_dir / "catalog.parquet"
    pl.DataFrame({"item_id": ["p0", "p1", "p2"], "title": ["A", "B", "X"]}).write_parquet(path)
    with pytest.raises(RecsysError, match="catalog.parquet: checksum"):
        read_bundle(bundle_dir)


def test_a_bundle_missing_a_file_does_not_load(bundle_dir: Path) -> None:
    shutil.rmtree(bundle_dir / "fallback")
    with pytest.raises(RecsysError, match="missing"):
        read_bundle(bundle_dir)


def test_a_tampered_nested_model_file_is_named(bundle_dir: Path) -> None:
    arrays = bundle_dir / "model" / "arrays.npz"
    data = bytearray(arrays.read_bytes())
    data[len(data) // 2] ^= 0xFF
    arrays.write_bytes(bytes(data))
    with pytest.raises(RecsysError, match="model/arrays.npz: checksum"):
        read_bundle(bundle_dir)


def test_an_extra_file_in_a_bundle_is_refused(bundle_dir: Path) -> None:
    (bundle_dir / "model" / "extra.npz").write_bytes(b"x")
    with pytest.raises(RecsysError, match="model/extra.npz: not listed"):
        read_bundle(bundle_dir)


@pytest.mark.parametrize("fmt,message", [
    ("recsys-bundle/99", "newer than this recsys"),
    ("recsys-bundle/1", "written by an older recsys"),
    ("something-else/2", "not a recsys bundle"),
    (None, "not a recsys bundle"),
])
def test_the_bundle_format_is_checked_before_anything_loads(bundle_dir: Path, fmt, message: str) -> None:  # noqa: ANN001
    manifest = json.loads((bundle_dir / MANIFEST).read_text())
    manifest["format"] = fmt
    (bundle_dir / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(RecsysError, match=message):
        read_bundle(bundle_dir)
