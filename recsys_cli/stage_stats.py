"""Wall time and peak memory of each stage: printed after a run, kept in ``reports/stages.json``.

Peak memory is the most resident memory the stage held at once, this process
and its children together (a Spark engine's JVM is a child): the kernel's own
high-water mark of this process (``VmHWM``, reset at the start of each stage
through ``/proc/self/clear_refs``) and a sampler thread that adds the
children's resident memory every 0.1 s.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from recsys_cli.atomic import write_text

MB = 1024 * 1024


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _kernel_peak() -> int:
    """This process's resident high-water mark in bytes (0 where /proc has none)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _tree_rss(proc: psutil.Process) -> tuple[int, int]:
    """Resident bytes of this process and of its children."""
    own = proc.memory_info().rss
    children = 0
    for child in proc.children(recursive=True):
        try:
            children += child.memory_info().rss
        except psutil.Error:
            continue
    return own, children


@dataclass
class StageStat:
    stage: str
    seconds: float = 0.0
    peak_mb: float = 0.0
    engine: str = "local"
    extra: dict[str, Any] = field(default_factory=dict)


@contextmanager
def measure(stage: str, engine: str = "local", interval: float = 0.1) -> Iterator[StageStat]:
    """Time a block and record its peak resident memory (process + children)."""
    stat = StageStat(stage=stage, engine=engine)
    proc = psutil.Process()
    exact = _reset_peak()
    peak = [0, 0]  # sampled: own + children together, and own alone
    done = threading.Event()

    def sample() -> None:
        while True:
            try:
                own, children = _tree_rss(proc)
            except psutil.Error:
                own, children = 0, 0
            peak[0] = max(peak[0], own + children)
            peak[1] = max(peak[1], own)
            if done.wait(interval):
                return

    thread = threading.Thread(target=sample, name=f"recsys-measure-{stage}", daemon=True)
    started = time.perf_counter()
    thread.start()
    try:
        yield stat
    finally:
        done.set()
        thread.join()
        stat.seconds = time.perf_counter() - started
        kernel = _kernel_peak() if exact else 0
        # the kernel's mark never misses a short spike of this process; the sampler adds the children's
        stat.peak_mb = max(peak[0], kernel + (peak[0] - peak[1])) / MB


def record(path: Path, stats: list[StageStat], command: str, config: dict[str, Any]) -> dict[str, Any]:
    """Merge ``stats`` into ``path`` (one entry per stage: the latest run of it) and write it."""
    old: dict[str, Any] = {}
    if path.is_file():
        try:
            old = json.loads(path.read_text())
        except (OSError, ValueError):
            old = {}
    stages = {s["stage"]: s for s in old.get("stages", []) if isinstance(s, dict) and "stage" in s}
    when = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    for s in stats:
        stages[s.stage] = {"stage": s.stage, "engine": s.engine, "seconds": round(s.seconds, 2),
                           "peak_mb": round(s.peak_mb, 1), "when": when, **s.extra}
    order = [s.stage for s in stats] + [name for name in stages if name not in {s.stage for s in stats}]
    out = {"command": command, "config": config, "stages": [stages[n] for n in order],
           "total_seconds": round(sum(stages[n]["seconds"] for n in order), 2),
           "peak_mb": round(max((stages[n]["peak_mb"] for n in order), default=0.0), 1)}
    write_text(path, json.dumps(out, indent=2) + "\n")
    return out


def table(stats: list[StageStat], title: str = "stages"):  # noqa: ANN201 - a rich Table
    from rich.table import Table

    t = Table(title=title, title_justify="left")
    for col in ("stage", "engine", "wall s", "peak MB"):
        t.add_column(col, justify="left" if col in ("stage", "engine") else "right")
    for s in stats:
        t.add_row(s.stage, s.engine, f"{s.seconds:,.1f}", f"{s.peak_mb:,.0f}")
    if len(stats) > 1:
        t.add_row("total", "", f"{sum(s.seconds for s in stats):,.1f}", f"{max(s.peak_mb for s in stats):,.0f}")
    return t
