"""Run `recsys` as a real subprocess on a bad input and check how it fails.

A case is a command line, the files it reads (written into a fresh project
root) and what the one error line must name. Every case must:

- exit with the given code (1: bad data, 2: bad config);
- print exactly one non-empty line, ``error: ...``, naming what the case lists
  (file, row, column, config key), and never a traceback;
- leave the project root exactly as it was (same files, same bytes): the
  stage's earlier output untouched and no temporary left behind.

The cases of a module run concurrently (subprocesses on a small pool) the
first time one of them is asked for, only those pytest collected; each test
then checks its own result.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

PREVIOUS = "data/interim/events.parquet"  # an earlier run's output, which a failed run must leave alone
PREVIOUS_BYTES = b"PAR1 an earlier run's output, not to be touched"


@dataclass
class Case:
    id: str
    args: list[str]  # command and overrides; {root} is replaced by the case's project root
    names: list[str]  # every fragment the error line must hold ({root} replaced too)
    code: int = 1
    files: dict[str, bytes | Callable[[Path], None]] = field(default_factory=dict)  # relative path -> content
    previous: str = PREVIOUS  # the stage's earlier output, written before the run when the files do not hold it
    quiet: bool = True  # False: the stage may print its progress lines before failing (one error line still)

    def param(self) -> object:
        return pytest.param(self, id=self.id)


@dataclass
class Outcome:
    code: int
    output: str
    before: dict[str, str]
    after: dict[str, str]
    root: Path


def snapshot(root: Path) -> dict[str, str]:
    """Every file and directory under ``root`` with the sha256 of its bytes."""
    out = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        out[rel] = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
    return out


def _prepare(case: Case, root: Path) -> None:
    for rel, content in case.files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if callable(content):
            content(path)
        else:
            path.write_bytes(content)
    previous = root / case.previous
    if not previous.exists():
        previous.parent.mkdir(parents=True, exist_ok=True)
        previous.write_bytes(PREVIOUS_BYTES)


def run_case(case: Case, root: Path) -> Outcome:
    root.mkdir(parents=True, exist_ok=True)
    _prepare(case, root)
    before = snapshot(root)
    args = [a.replace("{root}", str(root)) for a in case.args]
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "COLUMNS": "200", "TERM": "dumb"}
    done = subprocess.run([sys.executable, "-m", "recsys_cli.cli", *args], cwd=root, env=env,
                          capture_output=True, text=True, errors="replace", timeout=300)
    return Outcome(done.returncode, done.stdout + done.stderr, before, snapshot(root), root)


def run_all(cases: list[Case], base: Path, workers: int = 3) -> dict[str, Outcome]:
    with ThreadPoolExecutor(workers) as pool:
        futures = {c.id: pool.submit(run_case, c, base / c.id) for c in cases}
        return {name: f.result() for name, f in futures.items()}


def collected(request: pytest.FixtureRequest, cases: list[Case]) -> list[Case]:
    """The cases of this module that pytest will run (all of them if it cannot tell)."""
    module = request.module.__name__.rsplit(".", 1)[-1]
    wanted = {item.callspec.id for item in request.session.items
              if module in item.nodeid and hasattr(item, "callspec")}
    chosen = [c for c in cases if any(w == c.id or w.endswith(f"-{c.id}") or w.startswith(f"{c.id}-") for w in wanted)]
    return chosen or cases


def check(case: Case, outcome: Outcome) -> str:
    """The checks every case shares; returns the error line."""
    text = outcome.output
    assert "Traceback" not in text, text
    lines = [line for line in text.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error")]
    assert len(errors) == 1 and lines[-1] == errors[0], f"expected one error line, last:\n{text}"
    assert case.quiet is False or len(lines) == 1, f"expected nothing but the error line:\n{text}"
    line = lines[-1]
    assert line.startswith("error: "), line
    assert outcome.code == case.code, f"exit {outcome.code}, expected {case.code}: {line}"
    for part in case.names:
        part = part.replace("{root}", str(outcome.root))
        assert part in line, f"{part!r} not in {line!r}"
    changed = sorted(k for k in outcome.before.keys() | outcome.after.keys()
                     if outcome.before.get(k) != outcome.after.get(k))
    assert not changed, f"the failed run changed the project: {changed}"
    return line
