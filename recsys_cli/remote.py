"""Bundles on S3: upload after export, download to a verified local cache before serving.

Layout under ``s3://bucket/prefix/``: ``manifest.json`` (with the sha256 of
every file) names the current version (the first 16 hex digits of its own
sha256), and each version's files live under ``versions/<version>/`` by their
relative names. An upload puts the new version's files first and
``manifest.json`` last (one PUT, which S3 makes atomic), then removes the
versions older than the one it replaced. So at every instant, a process killed
or a connection lost anywhere in an upload included, a reader that starts from
``manifest.json`` finds a whole version: the old one until the PUT, the new
one after; a reader still fetching the replaced version keeps it until the
next upload.

Downloading reads the manifest, names the version by the manifest's sha256,
and fills ``<cache>/<bucket>/<prefix>/<version>/`` (a new version in a
scratch directory, swapped in whole); every file is checked against the
manifest (format, checksums, nothing missing or extra) before the directory
is handed to the loader, also when the version was already cached. A name in
the manifest that could leave the cache directory (absolute, ``..``,
backslashes) is refused before anything is fetched. Older cached versions
beyond the newest two are removed.

Connection settings: ``s3.*`` in the config, else boto3's own lookup (the
standard ``AWS_ENDPOINT_URL``, ``AWS_REGION``, ``AWS_ACCESS_KEY_ID`` /
``AWS_SECRET_ACCESS_KEY`` variables, profiles, instance roles).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from recsys_cli.atomic import atomic_dir
from recsys_cli.config import S3Config
from recsys_cli.errors import ConfigError, RecsysError
from recsys_cli.manifest import MANIFEST, load_manifest_json, read_manifest, safe_relative

SCHEME = "s3://"
KEEP_VERSIONS = 2
BUCKET = re.compile(r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")


class RemoteError(RecsysError):
    """S3 could not be reached, refused us, or holds no (whole) bundle there."""


@dataclass(frozen=True)
class S3Location:
    bucket: str
    prefix: str  # no leading or trailing slash; "" for the bucket's root

    def key(self, name: str) -> str:
        return f"{self.prefix}/{name}" if self.prefix else name

    @property
    def uri(self) -> str:
        return f"{SCHEME}{self.bucket}/{self.prefix}" if self.prefix else f"{SCHEME}{self.bucket}"


def is_remote(location: str | os.PathLike[str] | None) -> bool:
    """An ``s3://`` location (also as a ``Path``, which folds ``//`` into ``/``)."""
    return location is not None and str(location).startswith(("s3://", "s3:/"))


def parse(location: str | os.PathLike[str], where: str = "bundle") -> S3Location:
    """``s3://bucket/prefix`` -> bucket and prefix; a bad bucket or an escaping prefix is a config error."""
    text = str(location)
    rest = text[len("s3://"):] if text.startswith("s3://") else text[len("s3:/"):]
    bucket, _, prefix = rest.partition("/")
    if not BUCKET.match(bucket):
        raise ConfigError(f"{where}: {text!r} has no valid bucket name (s3://BUCKET/PREFIX)")
    prefix = prefix.strip("/")
    if prefix:
        parts = PurePosixPath(prefix).parts
        if "\\" in prefix or "\x00" in prefix or any(p in ("..", ".") for p in parts) or "//" in prefix:
            raise ConfigError(f"{where}: prefix {prefix!r} of {text!r} is not a plain key prefix (refused)")
    return S3Location(bucket, prefix)


def client(cfg: S3Config) -> Any:
    """A boto3 S3 client: ``s3.*`` where set, else boto3's standard settings (AWS_ENDPOINT_URL, ...)."""
    import boto3
    from botocore.config import Config as BotoConfig

    kwargs: dict[str, Any] = {"config": BotoConfig(retries={"max_attempts": 3, "mode": "standard"})}
    if cfg.endpoint_url:
        kwargs["endpoint_url"] = cfg.endpoint_url
    if cfg.region:
        kwargs["region_name"] = cfg.region
    elif not (os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")):
        kwargs["region_name"] = "us-east-1"  # boto3 needs one; any works with an explicit endpoint
    if cfg.access_key_id or cfg.secret_access_key:
        kwargs["aws_access_key_id"] = cfg.access_key_id
        kwargs["aws_secret_access_key"] = cfg.secret_access_key
    return boto3.client("s3", **kwargs)


def _failed(action: str, loc: S3Location, exc: Exception) -> RemoteError:
    from botocore.exceptions import ClientError

    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        detail = f"{error.get('Code', 'error')}: {error.get('Message') or ''}".rstrip(": ")
    else:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return RemoteError(f"{loc.uri}: {action} failed ({detail})")


def _calls(action: str, loc: S3Location) -> tuple[type[Exception], ...]:
    """The botocore errors that mean S3 could not be reached or said no."""
    from boto3.exceptions import Boto3Error
    from botocore.exceptions import BotoCoreError, ClientError

    return (ClientError, BotoCoreError, Boto3Error)  # Boto3Error: upload_file's S3UploadFailedError


def version_of(manifest_bytes: bytes) -> str:
    """A remote version's name: the first 16 hex digits of its manifest's sha256."""
    return hashlib.sha256(manifest_bytes).hexdigest()[:16]


def file_key(loc: S3Location, version: str, name: str) -> str:
    return loc.key(f"versions/{version}/{name}")


def upload(bundle: Path, uri: str, cfg: S3Config) -> dict[str, Any]:
    """Upload a verified bundle directory to ``uri``: the version's files, then the manifest, then stale keys go."""
    from botocore.exceptions import ClientError

    loc = parse(uri, "export.uri")
    manifest = read_manifest(bundle, verify=True)  # never publish a damaged bundle
    names = [safe_relative(name, f"{bundle / MANIFEST} files").as_posix() for name in manifest.get("files", {})]
    body = (bundle / MANIFEST).read_bytes()
    version = version_of(body)
    s3 = client(cfg)
    errors = _calls("upload", loc)
    def current() -> str | None:
        try:
            return version_of(s3.get_object(Bucket=loc.bucket, Key=loc.key(MANIFEST))["Body"].read())
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in ("NoSuchKey", "404"):
                raise
            return None

    try:
        replaced = current()  # the version being replaced stays whole for readers that already started on it
        for name in names:
            s3.upload_file(str(bundle / name), loc.bucket, file_key(loc, version, name))
        s3.put_object(Bucket=loc.bucket, Key=loc.key(MANIFEST), Body=body)  # the switch: one atomic PUT
        # only this bundle's own versions/ are cleaned (never a key beside it, such as another bundle under a
        # longer prefix); the version a concurrent upload may have switched to meanwhile is kept too
        live = {f"{loc.key(f'versions/{v}')}/" for v in (version, replaced, current()) if v}
        stale = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=loc.bucket, Prefix=loc.key("versions/")):
            stale += [obj["Key"] for obj in page.get("Contents", []) if not obj["Key"].startswith(tuple(live))]
        for start in range(0, len(stale), 1000):
            answer = s3.delete_objects(Bucket=loc.bucket,
                                       Delete={"Objects": [{"Key": k} for k in stale[start:start + 1000]]})
            if answer.get("Errors"):
                first = answer["Errors"][0]
                raise RemoteError(f"{loc.uri}: removing old versions failed ({first.get('Code')}: "
                                  f"{first.get('Key')}); the new version is published")
    except errors as exc:
        raise _failed("upload", loc, exc) from None
    return {"uri": loc.uri, "files": len(names) + 1, "removed": len(stale), "version": version[:12]}


def cache_root(cfg: S3Config) -> Path:
    if cfg.cache_dir:
        return Path(cfg.cache_dir)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "recsys" / "bundles"


def _inside(root: Path, name: str) -> Path:
    """``root / name``, refused unless it stays under ``root``."""
    rel = safe_relative(name, f"{MANIFEST} files")
    if rel.as_posix() == MANIFEST:
        raise RemoteError(f"{MANIFEST} files: lists {MANIFEST} itself (refused)")
    target = (root / rel).resolve()
    if not target.is_relative_to(root.resolve()):
        raise RemoteError(f"{name!r}: would be written outside {root} (refused)")
    return root / rel


def download(uri: str | os.PathLike[str], cfg: S3Config) -> Path:
    """The bundle at ``uri`` as a verified local directory (downloaded once per version)."""
    from botocore.exceptions import ClientError

    from recsys_cli.bundle import read_manifest_checked

    loc = parse(uri)
    s3 = client(cfg)
    errors = _calls("download", loc)
    try:
        body = s3.get_object(Bucket=loc.bucket, Key=loc.key(MANIFEST))["Body"].read()
    except errors as exc:
        raise _failed(f"reading {MANIFEST}", loc, exc) from None
    version = version_of(body)
    home = cache_root(cfg) / loc.bucket / (loc.prefix.replace("/", "__") or "_root")
    target = home / version
    home.mkdir(parents=True, exist_ok=True)
    if target.is_dir():
        try:
            read_manifest_checked(target)  # every checksum, also for a cached copy
            return target
        except RecsysError:
            pass  # damaged in the cache: fetch it again
    with atomic_dir(target) as tmp:  # swapped in only once every file verified
        (tmp / MANIFEST).write_bytes(body)
        manifest = load_manifest_json(tmp / MANIFEST)
        names = list(manifest.get("files", {}))
        paths = [_inside(tmp, name) for name in names]  # every name checked before anything is fetched
        try:
            for name, path in zip(names, paths):
                path.parent.mkdir(parents=True, exist_ok=True)
                try:
                    s3.download_file(loc.bucket, file_key(loc, version, name), str(path))
                except ClientError as exc:  # a bundle uploaded before versions/ existed: its files sit flat
                    if exc.response.get("Error", {}).get("Code") not in ("NoSuchKey", "404"):
                        raise
                    s3.download_file(loc.bucket, loc.key(name), str(path))
        except errors as exc:
            raise _failed(f"downloading version {version}", loc, exc) from None
        try:
            read_manifest_checked(tmp)
        except RecsysError as exc:
            raise RemoteError(f"{loc.uri}: version {version} does not verify ({str(exc).splitlines()[0]}); "
                              "if it is being uploaded right now, retry") from None
    _prune(home, keep=target)
    return target


def _prune(home: Path, keep: Path) -> None:
    versions = sorted((p for p in home.iterdir() if p.is_dir() and not p.name.startswith(".")),
                      key=lambda p: p.stat().st_mtime, reverse=True)
    for old in [v for v in versions if v != keep][KEEP_VERSIONS - 1:]:
        shutil.rmtree(old, ignore_errors=True)


def local_bundle(location: str | os.PathLike[str], cfg: S3Config) -> Path:
    """A bundle path to load: an ``s3://`` bundle is downloaded and verified first, a local path is as given."""
    if is_remote(location):
        return download(location, cfg)
    return Path(location)


def describe(location: str | os.PathLike[str]) -> str:
    return parse(location).uri if is_remote(location) else str(location)
