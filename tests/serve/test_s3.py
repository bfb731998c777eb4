"""Bundles on S3 against a real S3-compatible HTTP server (moto's ThreadedMotoServer), boto3 unpatched.

`recsys export export.uri=s3://...` uploads; `recsys serve bundle=s3://...` downloads to a cache, verifies
every checksum and serves the same lists as the local bundle; a changed remote bundle is picked up by
POST /admin/reload; a tampered remote file is refused and the old bundle keeps serving; manifest names
that could leave the cache directory are refused before anything is written; an upload cut off at any
S3 call leaves the old or the new version whole, never a mix.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import httpx
import pytest
from moto.server import ThreadedMotoServer

from recsys_cli import config, remote
from recsys_cli.config import S3Config
from recsys_cli.errors import ConfigError, RecsysError
from recsys_cli.manifest import read_manifest
from recsys_cli.service import RecommenderService
from recsys_cli.stages import export
from tests.serve.conftest import BASE, TOKEN, Server

AUTH = {"authorization": f"Bearer {TOKEN}"}
BUCKET = "shop-bundles"
CREDS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    boto3.client("s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id="testing",
                 aws_secret_access_key="testing").create_bucket(Bucket=BUCKET)
    yield url
    server.stop()


@pytest.fixture()
def aws_env(endpoint: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    env = {**CREDS, "AWS_ENDPOINT_URL": endpoint}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


@pytest.fixture(scope="module")
def copy(shop: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("s3-shop")
    for name in ("interim", "processed", "features", "models"):
        shutil.copytree(shop / "data" / name, root / "data" / name)
    return root


def _s3(endpoint: str):  # noqa: ANN202
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing",
                        aws_secret_access_key="testing")


def _keys(endpoint: str, prefix: str) -> set[str]:
    listed = _s3(endpoint).list_objects_v2(Bucket=BUCKET, Prefix=prefix + "/").get("Contents", [])
    return {obj["Key"][len(prefix) + 1:] for obj in listed}


def test_export_uploads_serve_downloads_verifies_and_reloads_a_changed_bundle(
        copy: Path, endpoint: str, aws_env: dict[str, str], tmp_path: Path) -> None:
    uri = f"s3://{BUCKET}/shop/prod"
    # endpoint from the config here; from AWS_ENDPOINT_URL for the server below
    cfg = config.load([*BASE, f"paths.root={copy}", "export.production=false", f"export.uri={uri}",
                       f"s3.endpoint_url={endpoint}"])
    export.run(cfg)
    local = copy / "data" / "bundle"
    manifest = read_manifest(local)
    first = remote.version_of((local / "manifest.json").read_bytes())
    assert _keys(endpoint, "shop/prod") == {*(f"versions/{first}/{n}" for n in manifest["files"]), "manifest.json"}
    cache = tmp_path / "cache"
    srv = Server(copy, f"bundle={uri}", f"s3.cache_dir={cache}", env=aws_env)
    try:
        expected = RecommenderService.load(local)
        users = expected.user_ids[:25].tolist()
        with httpx.Client(base_url=srv.url, timeout=10.0) as client:
            ready = client.get("/health/ready").json()
            assert ready["bundle"] == expected.version
            for user in users:
                got = client.get(f"/users/{user}/recommendations", params={"k": 10}).json()
                assert [i["item_id"] for i in got["items"]] == [i.item_id for i in expected.recommend(user, 10).items]
            versions = list((cache / BUCKET / "shop__prod").iterdir())
            assert len(versions) == 1 and read_manifest(versions[0])  # the verified copy

            # a new version of the remote bundle (the production fit) is picked up by a reload
            cfg2 = config.load([*BASE, f"paths.root={copy}", f"export.uri={uri}", f"s3.endpoint_url={endpoint}"])
            export.run(cfg2)
            newer = RecommenderService.load(local)
            assert newer.version != expected.version
            second = remote.version_of((local / "manifest.json").read_bytes())
            files = read_manifest(local)["files"]
            assert _keys(endpoint, "shop/prod") == {  # the replaced version stays for readers fetching it
                *(f"versions/{first}/{n}" for n in manifest["files"]), *(f"versions/{second}/{n}" for n in files),
                "manifest.json"}
            answer = client.post("/admin/reload", headers=AUTH)
            assert answer.status_code == 200, answer.text
            assert answer.json()["bundle"] == newer.version and answer.json()["previous"] == expected.version
            got = client.get(f"/users/{users[0]}/recommendations", params={"k": 10}).json()
            assert got["bundle"] == newer.version
            assert [i["item_id"] for i in got["items"]] == [i.item_id for i in newer.recommend(users[0], 10).items]

            # a new version with one tampered file: refused, the current bundle keeps serving
            body = (local / "manifest.json").read_bytes() + b"\n"  # a new version number
            third = remote.version_of(body)
            tampered = next(n for n in files if n.startswith("model/"))
            for name in files:
                data = (local / name).read_bytes() + (b"\0" if name == tampered else b"")
                _s3(endpoint).put_object(Bucket=BUCKET, Key=f"shop/prod/versions/{third}/{name}", Body=data)
            _s3(endpoint).put_object(Bucket=BUCKET, Key="shop/prod/manifest.json", Body=body)
            refused = client.post("/admin/reload", headers=AUTH)
            assert refused.status_code == 422 and "checksum" in refused.json()["detail"]
            assert client.get("/health/ready").json()["bundle"] == newer.version
    finally:
        srv.stop()


def _put_manifest(endpoint: str, prefix: str, files: dict[str, str]) -> None:
    body = json.dumps({"format": "recsys-bundle/2", "files": files}).encode()
    _s3(endpoint).put_object(Bucket=BUCKET, Key=f"{prefix}/manifest.json", Body=body)


@pytest.mark.parametrize("name", ["../escaped.txt", "/etc/escaped.txt", "a/../../escaped.txt", "manifest.json"])
def test_manifest_names_that_leave_the_cache_are_refused(endpoint: str, tmp_path: Path, name: str) -> None:
    payload = b"not a bundle file"
    _s3(endpoint).put_object(Bucket=BUCKET, Key=f"evil/{name.lstrip('/')}", Body=payload)
    _put_manifest(endpoint, "evil", {name: hashlib.sha256(payload).hexdigest()})
    cfg = S3Config(endpoint_url=endpoint, access_key_id="testing", secret_access_key="testing",
                   cache_dir=str(tmp_path / "cache"))
    with pytest.raises(RecsysError, match="refused"):
        remote.download(f"s3://{BUCKET}/evil", cfg)
    assert not list(tmp_path.rglob("escaped.txt"))
    assert not (tmp_path / "cache" / BUCKET / "evil").exists() or not [
        p for p in (tmp_path / "cache" / BUCKET / "evil").iterdir() if not p.name.startswith(".")]


@pytest.mark.parametrize("uri", ["s3://Bad_Bucket/x", "s3://shop-bundles/a/../b", "s3://shop-bundles/a\\b", "s3://x"])
def test_bad_s3_locations_are_config_errors(uri: str) -> None:
    with pytest.raises(ConfigError):
        remote.parse(uri)


def test_serve_from_a_missing_remote_bundle_fails_with_one_line(endpoint: str, aws_env: dict[str, str],
                                                                tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "recsys_cli.cli", "serve", *BASE, f"paths.root={tmp_path}",
                          f"bundle=s3://{BUCKET}/nothing-here", f"s3.cache_dir={tmp_path / 'c'}"],
                         capture_output=True, text=True, env={**aws_env, "PATH": "/usr/bin:/bin"}, timeout=120)
    assert out.returncode == 1
    assert "NoSuchKey" in out.stdout + out.stderr and "Traceback" not in out.stdout + out.stderr


class Cut(Exception):
    """The connection lost (or the process killed) right before one S3 call."""


def _variant(bundle: Path, dest: Path, tag: str) -> str:
    """A copy of ``bundle`` whose config.yaml differs (so its manifest lists other checksums): a distinct version."""
    from recsys_cli.manifest import write_manifest

    shutil.copytree(bundle, dest)
    with open(dest / "config.yaml", "a", encoding="utf-8") as out:
        out.write(f"# variant {tag}\n")
    info = {k: v for k, v in json.loads((dest / "manifest.json").read_text()).items() if k != "files"}
    write_manifest(dest, info)
    return remote.version_of((dest / "manifest.json").read_bytes())


def test_an_upload_cut_at_any_s3_call_leaves_a_whole_version(shop: Path, endpoint: str, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from recsys_cli.bundle import read_bundle

    cfg = S3Config(endpoint_url=endpoint, access_key_id="testing", secret_access_key="testing")
    uri = f"s3://{BUCKET}/crash/prod"
    a, b, c = (_variant(shop / "data" / "bundle", tmp_path / name, name) for name in "abc")
    remote.upload(tmp_path / "a", uri, cfg)
    real_client = remote.client

    def cut_at(n: int):  # noqa: ANN202
        def make(settings: S3Config):  # noqa: ANN202 - a real boto3 client that loses its connection at call n
            s3 = real_client(settings)
            calls = iter(range(10_000))

            def before_call(**_: object) -> None:
                if next(calls) == n:
                    raise Cut(f"cut before S3 call {n}")
            s3.meta.events.register("before-call.s3", before_call)
            return s3
        return make

    seen = []
    for n in range(1000):
        monkeypatch.setattr(remote, "client", cut_at(n))
        try:
            remote.upload(tmp_path / "b", uri, cfg)
            finished = True
        except Cut:
            finished = False
        monkeypatch.setattr(remote, "client", real_client)
        fetched = remote.download(uri, dataclasses.replace(cfg, cache_dir=str(tmp_path / f"cache{n}")))
        read_bundle(fetched)  # whole: every checksum, nothing missing
        seen.append(fetched.name)
        assert fetched.name in (a, b), (n, fetched.name)
        if finished:
            break
    assert seen[0] == a and seen[-1] == b and finished and n >= 10  # the cut landed at every call of an upload
    remote.upload(tmp_path / "c", uri, cfg)
    names = read_manifest(tmp_path / "c")["files"]
    assert _keys(endpoint, "crash/prod") == {  # the replaced version (b) kept, the older one (a) removed
        "manifest.json", *(f"versions/{v}/{name}" for v in (b, c) for name in names)}
