"""Who gets in, what is loaded, where the server listens and what it writes down.

- every admin endpoint answers 401 without the right bearer token, before it
  reads anything of the request, and does nothing; no token configured means
  admin is closed;
- a bundle named to ``/admin/reload`` is used only once its manifest verifies:
  a tampered file, a file the manifest does not list, a manifest name that
  leads out of the bundle, or a relative path out of ``paths.root`` is refused
  and the old bundle keeps serving; an experiment arm cannot name a bundle out
  of ``paths.root`` either; a tampered bundle at start-up is refused
  naming the file, and so is it by ``recsys batch-recommend``;
- the server listens on 127.0.0.1 unless told otherwise (the default config,
  and the socket of a started server);
- the access log holds ids, never a request body or a header.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest
from fastapi.testclient import TestClient

from recsys_cli import config
from recsys_cli.bundle import read_bundle
from recsys_cli.manifest import MANIFEST
from recsys_cli.serve.app import create_app
from tests.bad_inputs.cli import Case, check, run_case
from tests.serve.conftest import BASE, TOKEN, Server, free_port

AUTH = {"authorization": f"Bearer {TOKEN}"}
ADMIN = [
    ("POST", "/admin/reload", {"bundle": "data/bundle"}),
    ("GET", "/admin/experiments", None),
    ("POST", "/admin/experiments", {"name": "sneaky", "arms": [{"name": "a"}, {"name": "b"}]}),
    ("POST", "/admin/experiments/sneaky/start", None),
    ("POST", "/admin/experiments/sneaky/stop", None),
    ("POST", "/admin/experiments/sneaky/promote", {"arm": "a"}),
]
WRONG = [None, "", "Bearer wrong-token", f"Basic {TOKEN}", "Bearer", f"Bearer {TOKEN}x", f"Bearer x{TOKEN}",
         f"Bearer {TOKEN[:-1]}", f"Token {TOKEN}", TOKEN]


@pytest.mark.parametrize("method,path,body", ADMIN, ids=[f"{m} {p}" for m, p, _ in ADMIN])
def test_every_admin_endpoint_is_401_without_the_right_token(client: httpx.Client, method: str, path: str,
                                                             body: dict | None) -> None:
    served = client.get("/health/ready").json()["bundle"]
    for header in WRONG:
        headers = {} if header is None else {"authorization": header}
        r = client.request(method, path, json=body, headers=headers)
        assert r.status_code == 401, (header, r.status_code, r.text)
        assert r.headers["www-authenticate"] == "Bearer" and "Bearer" in r.json()["detail"]
        # refused before the body is read: invalid JSON is a 401 too, never a 422 that describes the endpoint
        r = client.request(method, path, content=b"{not json", headers={**headers, "content-type": "application/json"})
        assert r.status_code == 401
    names = [e["name"] for e in client.get("/admin/experiments", headers=AUTH).json()["experiments"]]
    assert "sneaky" not in names  # nothing was created
    assert client.get("/health/ready").json()["bundle"] == served  # nothing was reloaded


def test_the_right_token_opens_admin_and_the_scheme_is_case_insensitive(client: httpx.Client) -> None:
    assert client.get("/admin/experiments", headers=AUTH).status_code == 200
    assert client.get("/admin/experiments", headers={"authorization": f"bearer {TOKEN}"}).status_code == 200


def test_admin_is_closed_when_no_token_is_configured(shop: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RECSYS_ADMIN_TOKEN", raising=False)
    cfg = config.load([*BASE, f"paths.root={shop}", "serve.events=none", "serve.log_requests=false"])
    assert cfg.serve.admin_token is None
    app = create_app(cfg, load=False)
    with TestClient(app) as c:
        for header in ("Bearer", "Bearer None", "Bearer null", f"Bearer {TOKEN}"):
            assert c.post("/admin/reload", headers={"authorization": header}).status_code == 401
    monkeypatch.setenv("RECSYS_ADMIN_TOKEN", "from-the-environment")
    with TestClient(create_app(cfg, load=False)) as c:
        assert c.post("/admin/reload", headers={"authorization": f"Bearer {TOKEN}"}).status_code == 401
        assert c.post("/admin/reload", headers={"authorization": "Bearer from-the-environment"}).status_code != 401


def _copy_bundle(shop: Path, to: Path) -> Path:
    shutil.copytree(shop / "data" / "bundle", to)
    return to


def _rewrite_manifest(bundle: Path, change) -> None:  # noqa: ANN001
    manifest = json.loads((bundle / MANIFEST).read_text())
    change(manifest)
    (bundle / MANIFEST).write_text(json.dumps(manifest))


def test_a_bundle_named_to_reload_is_used_only_once_it_verifies(client: httpx.Client, shop: Path,
                                                                 tmp_path: Path) -> None:
    served = client.get("/health/ready").json()["bundle"]
    tampered = _copy_bundle(shop, tmp_path / "tampered")
    weights = next(p for p in sorted((tampered / "model").iterdir()) if p.suffix == ".npz")
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF
    weights.write_bytes(bytes(data))
    extra = _copy_bundle(shop, tmp_path / "extra")
    (extra / "model" / "evil.npy").write_bytes(b"\x93NUMPY planted")
    escaping = _copy_bundle(shop, tmp_path / "escaping")
    _rewrite_manifest(escaping, lambda m: m["files"].update({"../outside.txt": "0" * 64}))
    (tmp_path / "outside.txt").write_text("outside the bundle")
    absolute = _copy_bundle(shop, tmp_path / "absolute")
    _rewrite_manifest(absolute, lambda m: m["files"].update({"/etc/hostname": "0" * 64}))
    linked = _copy_bundle(shop, tmp_path / "linked")
    (linked / "catalog.parquet").unlink()
    (linked / "catalog.parquet").symlink_to(shop / "data" / "bundle" / "catalog.parquet")
    refused = {
        str(tampered): f"{weights.relative_to(tampered)}",
        str(extra): "evil.npy",
        str(escaping): "../outside.txt",
        str(absolute): "/etc/hostname",
        str(linked): "symbolic link",
        "../../../../etc": "leads out of paths.root",
        "data/../../..": "leads out of paths.root",
    }
    for bundle, named in refused.items():
        r = client.post("/admin/reload", json={"bundle": bundle}, headers=AUTH)
        assert r.status_code == 422, (bundle, r.text)
        detail = r.json()["detail"]
        assert detail.startswith(f"reload refused, still serving {served}") and named in detail, detail
    assert client.get("/health/ready").json()["bundle"] == served
    # a relative path inside paths.root is fine
    r = client.post("/admin/reload", json={"bundle": "data/bundle"}, headers=AUTH)
    assert r.status_code == 200 and r.json()["bundle"] == read_bundle(shop / "data" / "bundle").version


def test_an_experiment_arm_cannot_name_a_bundle_out_of_paths_root(client: httpx.Client) -> None:
    served = client.get("/health/ready").json()["bundle"]
    r = client.post("/admin/experiments", headers=AUTH, json={
        "name": "escaping-arm", "arms": [{"name": "a"}, {"name": "b", "bundle": "../../../../etc"}]})
    assert r.status_code == 201, r.text
    r = client.post("/admin/experiments/escaping-arm/start", headers=AUTH)
    assert r.status_code == 422 and "arm 'b'" in r.json()["detail"] and "leads out of paths.root" in r.json()["detail"]
    running = client.get("/admin/experiments", headers=AUTH).json()["running"]
    assert running is None or running["name"] != "escaping-arm"
    assert client.get("/health/ready").json()["bundle"] == served


def test_a_tampered_bundle_at_start_up_is_refused_naming_the_file(shop: Path, tmp_path: Path) -> None:
    root = tmp_path / "root"
    _copy_bundle(shop, root / "data" / "bundle")
    catalog = root / "data" / "bundle" / "catalog.parquet"
    catalog.write_bytes(catalog.read_bytes()[:-1] + b"\x00")
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "recsys_cli.cli", "serve", *BASE, f"paths.root={root}",
                             f"serve.port={port}", "serve.events=none"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})
    try:
        deadline, body = time.monotonic() + 60, {}
        while time.monotonic() < deadline:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/health/ready", timeout=1)
                body = r.json()
                if body.get("status") == "failed":
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        assert r.status_code == 503 and body["status"] == "failed", body
        assert "catalog.parquet" in body["detail"] and "checksum mismatch" in body["detail"], body
        r = httpx.post(f"http://127.0.0.1:{port}/recommend", json={"user_id": "u"}, timeout=5)
        assert r.status_code == 503  # nothing is answered from a bundle that did not verify
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_batch_recommend_refuses_a_tampered_bundle_naming_the_file(shop: Path, tmp_path: Path) -> None:
    def tamper(root: Path) -> None:
        _copy_bundle(shop, root)
        ids = root / "ids.npz"
        ids.write_bytes(ids.read_bytes() + b"appended")

    case = Case("batch-recommend-tampered", ["batch-recommend", *BASE, "paths.root={root}"],
                ["data/bundle/ids.npz", "checksum mismatch"], files={"data/bundle": tamper},
                previous="data/recs/recommendations.parquet")
    check(case, run_case(case, tmp_path / "case"))


def test_the_server_listens_on_loopback_unless_told_otherwise(server: Server) -> None:
    assert config.load(["tracking=none"]).serve.host == "127.0.0.1"
    proc = psutil.Process(server.proc.pid)
    listening = [c for p in (proc, *proc.children(recursive=True)) for c in p.net_connections(kind="inet")
                 if c.status == psutil.CONN_LISTEN]
    assert listening and {c.laddr.ip for c in listening} == {"127.0.0.1"}, listening
    assert {c.laddr.port for c in listening} == {server.port}
    others = [a.address for addrs in psutil.net_if_addrs().values() for a in addrs
              if a.family == socket.AF_INET and not a.address.startswith("127.")]
    for address in others:  # not reachable on any other interface of this machine
        with socket.socket() as sock:
            sock.settimeout(2)
            assert sock.connect_ex((address, server.port)) != 0, address


def test_the_access_log_holds_ids_never_bodies_or_headers(client: httpx.Client, server: Server) -> None:
    secrets = {"price": "98765.4321", "bundle": "/secret-bundle-dir-Qx7", "salt": "SALT-Secret-Vw3",
               "brand": "Brand-Secret-Kp2"}
    r1 = client.post("/feedback", json={"user_id": "log-fb-user", "item_id": "p000001", "event": "purchase",
                                        "price": float(secrets["price"]), "quantity": 3})
    r2 = client.post("/admin/reload", json={"bundle": secrets["bundle"]}, headers=AUTH)
    r3 = client.post("/admin/experiments", headers=AUTH, json={
        "name": "log-check", "salt": secrets["salt"], "arms": [{"name": "a"}, {"name": "b"}]})
    r4 = client.post("/admin/reload", json={"bundle": secrets["bundle"]},
                     headers={"authorization": "Bearer guessed-Token-Zz1"})
    r5 = client.post("/recommend", json={"user_id": "log-rec-user", "filters": {"brands": [secrets["brand"]]}})
    assert (r1.status_code, r2.status_code, r3.status_code, r4.status_code, r5.status_code) == (200, 422, 201, 401, 200)
    wanted = {r.headers["x-request-id"] for r in (r1, r2, r3, r4, r5)}
    for _ in range(100):  # each line is written right after its response
        lines = [json.loads(line) for line in server.access_log()]
        if wanted <= {line["request_id"] for line in lines}:
            break
        time.sleep(0.05)
    mine = {line["request_id"]: line for line in lines if line["request_id"] in wanted}
    assert set(mine) == wanted
    assert mine[r1.headers["x-request-id"]]["user_id"] == "log-fb-user"
    assert mine[r5.headers["x-request-id"]]["user_id"] == "log-rec-user"
    text = server.log.read_text()
    for secret in (*secrets.values(), TOKEN, "guessed-Token-Zz1"):
        assert secret not in text, secret
