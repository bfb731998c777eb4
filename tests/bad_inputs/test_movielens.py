"""Bad MovieLens folders given to `recsys ingest data=movielens` (a real subprocess each).

The folders are the small made-up ones of tests/data/test_movielens.py, then
broken: a file missing, emptied, cut short, overwritten with random bytes or
with a wrong header. MovieLens positions are ``line N``: the physical line of
the file (a CSV header is line 1).
"""

from __future__ import annotations

import random
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.bad_inputs.cli import Case, Outcome, check, collected, run_all
from tests.data.test_movielens import ml1m, ml100k, ml_csv


def folder(make: Callable[[Path], Path], change: Callable[[Path], None] | None = None) -> Callable[[Path], None]:
    """A file-maker for Case.files: builds the folder at ``path`` and applies ``change``."""

    def build(path: Path) -> None:
        made = make(path.parent)
        made.rename(path)
        if change is not None:
            change(path)

    return build


def remove(name: str) -> Callable[[Path], None]:
    return lambda d: (d / name).unlink()


def replace(name: str, data: bytes) -> Callable[[Path], None]:
    return lambda d: (d / name).write_bytes(data)


def append(name: str, data: bytes) -> Callable[[Path], None]:
    return lambda d: (d / name).write_bytes((d / name).read_bytes() + data)


def garbage(n: int, seed: int) -> bytes:
    rng = random.Random(seed)
    return bytes(rng.getrandbits(8) for _ in range(n))


def zipped_with_escape(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("ml-100k/u.data", "1\t10\t4\t881250949\n")
        archive.writestr("../../outside.txt", "escaped")


def ingest(*extra: str) -> list[str]:
    return ["ingest", "data=movielens", "data.path={root}/in/ml", "paths.root={root}", "tracking=none", *extra]


CASES = [
    Case("ml-missing-folder", ingest(), ["in/ml", "MovieLens folder not found (data.path)"]),
    Case("ml-empty-folder", ingest(), ["in/ml", "no MovieLens files found"], files={"in/ml": lambda p: p.mkdir()}),
    Case("ml-100k-missing-u-item", ingest(), ["in/ml", "not a ml-100k folder: missing u.item"],
         files={"in/ml": folder(ml100k, remove("u.item"))}),
    Case("ml-100k-empty-ratings", ingest(), ["in/ml/u.data", "empty"],
         files={"in/ml": folder(ml100k, replace("u.data", b""))}),
    Case("ml-100k-garbage-ratings", ingest(), ["in/ml/u.data"],
         files={"in/ml": folder(ml100k, replace("u.data", garbage(2000, 5)))}),
    Case("ml-100k-last-line-cut", ingest(), ["in/ml/u.data", "line 5"],
         files={"in/ml": folder(ml100k, append("u.data", b"3\t10"))}),
    Case("ml-100k-rating-not-a-number", ingest(), ["in/ml/u.data", "line 5", "field 'rating'", "'x'"],
         files={"in/ml": folder(ml100k, append("u.data", b"3\t10\tx\t881250949\n"))}),
    Case("ml-100k-user-id-with-nul", ingest(), ["in/ml/u.data", "line 5", "field 'user'"],
         files={"in/ml": folder(ml100k, append("u.data", b"3\x00\t10\t4\t881250949\n"))}),
    Case("ml-100k-bad-genre-flag", ingest(), ["in/ml/u.item", "line 1", "genre flags"],
         files={"in/ml": folder(ml100k, lambda d: (d / "u.item").write_bytes(
             (d / "u.item").read_bytes().replace(b"|0|", b"|7|", 1)))}),
    Case("ml-1m-bad-age-code", ingest(), ["in/ml/users.dat", "line 2", "field 'age'", "'57'"],
         files={"in/ml": folder(ml1m, replace("users.dat", b"1::F::1::10::48067\n2::M::57::16::70072\n"))}),
    Case("ml-1m-ratings-extra-field", ingest(), ["in/ml/ratings.dat", "line 2"],
         files={"in/ml": folder(ml1m, replace("ratings.dat", b"1::1193::5::978300760\n2::2::3::978302109::9\n"))}),
    Case("ml-csv-wrong-header", ingest(), ["in/ml/ratings.csv", "column 'movieId' not found"],
         files={"in/ml": folder(ml_csv, replace("ratings.csv", b"userId,film,rating,timestamp\n1,1,4.0,964982703\n"))}),
    Case("ml-csv-header-only", ingest(), ["in/ml/ratings.csv", "no data rows"],
         files={"in/ml": folder(ml_csv, replace("ratings.csv", b"userId,movieId,rating,timestamp\n"))}),
    Case("ml-csv-timestamp-not-an-integer", ingest(), ["in/ml/ratings.csv", "line 3", "field 'timestamp'"],
         files={"in/ml": folder(ml_csv, replace("ratings.csv",
                                               b"userId,movieId,rating,timestamp\n1,1,4.0,964982703\n1,11,4.5,soon\n"))}),
    Case("ml-format-does-not-match", ingest("data.format=ml-1m"), ["in/ml", "not a ml-1m folder: missing"],
         files={"in/ml": folder(ml100k)}),
    Case("ml-unknown-format", ingest("data.format=ml-2m"), ["data.format", "'ml-2m'"], code=2,
         files={"in/ml": folder(ml100k)}),
    Case("ml-zip-member-escapes", ["ingest", "data=movielens", "data.path={root}/in/ml.zip", "paths.root={root}",
                                   "tracking=none"], ["in/ml.zip", "unsafe member path", "outside.txt"],
         files={"in/ml.zip": zipped_with_escape}),
    Case("ml-zip-not-a-zip", ["ingest", "data=movielens", "data.path={root}/in/ml.zip", "paths.root={root}",
                              "tracking=none"], ["in/ml.zip", "not a readable zip archive"],
         files={"in/ml.zip": b"PK but not really a zip archive"}),
]


@pytest.fixture(scope="module")
def outcomes(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    return run_all(collected(request, CASES), tmp_path_factory.mktemp("bad-movielens"))


@pytest.mark.parametrize("case", [c.param() for c in CASES])
def test_a_bad_movielens_folder_is_one_clear_line_and_nothing_written(case: Case,
                                                                      outcomes: dict[str, Outcome]) -> None:
    check(case, outcomes[case.id])
    if case.id == "ml-zip-member-escapes":
        assert not (outcomes[case.id].root / "outside.txt").exists()
