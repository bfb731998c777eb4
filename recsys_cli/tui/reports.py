"""What ``reports/`` holds, read for the metrics screen; a missing file names the command that makes it."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from recsys_cli.errors import RecsysError

METRIC_KEY = re.compile(r"^(?P<prefix>[a-z_]+\.)?(?P<name>[a-z_]+)@(?P<k>\d+)$")


class ReportMissing(RecsysError):
    """A report the screen wants is not there (or not readable); the message says how to make it."""


@dataclass
class MetricRow:
    metric: str  # e.g. ndcg@10, cold.recall@5, business.ctr
    value: float
    low: float | None = None
    high: float | None = None


def read_json(path: Path, command: str) -> Any:
    if not path.is_file():
        raise ReportMissing(f"{path} not found: run `{command}`")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ReportMissing(f"{path}: not valid JSON (line {exc.lineno}); run `{command}` again") from None
    except OSError as exc:
        raise ReportMissing(f"{path}: {exc.strerror}") from None


def metrics(reports: Path) -> dict[str, Any]:
    data = read_json(reports / "metrics.json", "recsys eval")
    if not isinstance(data, dict):
        raise ReportMissing(f"{reports / 'metrics.json'}: expected an object of metrics; run `recsys eval` again")
    return data


def metric_rows(data: dict[str, Any]) -> list[MetricRow]:
    """Every numeric metric with its interval where eval wrote one: headline @K first (by K), then the rest."""
    rows: list[tuple[tuple, MetricRow]] = []
    for key, value in data.items():
        if key.endswith((".ci_low", ".ci_high")) or isinstance(value, bool) or not isinstance(value, int | float):
            continue
        low, high = data.get(f"{key}.ci_low"), data.get(f"{key}.ci_high")
        match = METRIC_KEY.match(key)
        if match and not match["prefix"]:
            order = (0, int(match["k"]), 0 if low is not None else 1)
        elif match:
            order = (1, match["prefix"], int(match["k"]), 0)
        else:
            order = (2, key.split(".")[0], 0, 0)
        rows.append((order, MetricRow(key, float(value), _num(low), _num(high))))
    rows.sort(key=lambda r: r[0])  # stable: within a group, the file's order
    return [r for _, r in rows]


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def at_k(reports: Path) -> list[dict[str, float]]:
    """``reports/plots/metrics_at_k.json``: one row per K with each metric."""
    data = read_json(reports / "plots" / "metrics_at_k.json", "recsys eval")
    if not isinstance(data, list) or not all(isinstance(r, dict) and "k" in r for r in data):
        raise ReportMissing(f"{reports / 'plots' / 'metrics_at_k.json'}: expected a list of rows with k; "
                            "run `recsys eval` again")
    return sorted(data, key=lambda r: r["k"])


def segments(reports: Path) -> dict[str, dict[str, dict[str, Any]]]:
    """``reports/segments.json``: breakdown name (activity, age_band, ..., items) -> segment -> metrics."""
    data = read_json(reports / "segments.json", "recsys eval")
    if not isinstance(data, dict):
        raise ReportMissing(f"{reports / 'segments.json'}: expected an object; run `recsys eval` again")
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for name, value in data.items():
        if name == "users" and isinstance(value, dict):  # user attributes, one breakdown each
            out.update({attr: v for attr, v in value.items() if isinstance(v, dict)})
        elif isinstance(value, dict) and value and all(isinstance(v, dict) for v in value.values()):
            out[name] = value
    return out


def comparisons(reports: Path) -> list[Path]:
    """``reports/compare/*.json`` (from ``recsys eval compare A B``), by name."""
    folder = reports / "compare"
    return sorted(folder.glob("*_vs_*.json")) if folder.is_dir() else []


def comparison(path: Path) -> dict[str, Any]:
    data = read_json(path, "recsys eval compare A B")
    need = ("a", "b", "metric", "mean_a", "mean_b", "diff", "diff_lo", "diff_hi")
    missing = [k for k in need if k not in data] if isinstance(data, dict) else list(need)
    if missing:
        raise ReportMissing(f"{path}: missing {', '.join(missing)}; run `recsys eval compare A B` again")
    return data


@dataclass
class PivotRow:
    """One metric across K: (value, low, high) per K; ``plain`` for a metric without K."""

    metric: str
    by_k: dict[int, MetricRow]
    plain: MetricRow | None = None


def pivot(rows: list[MetricRow]) -> tuple[list[int], list[PivotRow]]:
    """Metrics at K as one row per metric with a column per K (in the rows' order); the rest as plain rows."""
    ks: list[int] = []
    table: dict[str, PivotRow] = {}
    plain: list[PivotRow] = []
    for row in rows:
        match = METRIC_KEY.match(row.metric)
        if match is None:
            plain.append(PivotRow(row.metric, {}, row))
            continue
        k = int(match["k"])
        if k not in ks:
            ks.append(k)
        name = f"{match['prefix'] or ''}{match['name']}"
        table.setdefault(name, PivotRow(name, {})).by_k[k] = row
    return sorted(ks), [*table.values(), *plain]
