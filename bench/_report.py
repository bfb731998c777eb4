"""Write a benchmark's result as JSON (+ a short Markdown table) under reports/bench/."""

from __future__ import annotations

import json
import os
import platform
import shlex
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent.parent / "reports" / "bench"


def machine() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
    }


def write(name: str, result: dict[str, Any], table: list[dict[str, Any]] | None = None) -> Path:
    OUT.mkdir(parents=True, exist_ok=True)
    script = os.path.relpath(os.path.abspath(sys.argv[0]), Path(__file__).resolve().parents[1])  # from the repo root
    command = "python " + " ".join(shlex.quote(a) for a in [script, *sys.argv[1:]])
    payload = {
        "benchmark": name,
        "command": command,
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        **result,
    }
    path = OUT / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2) + "\n")
    if table:
        cols = list(table[0])
        lines = [f"# {name}", "", f"Command: `{command}`", "", "| " + " | ".join(cols) + " |",
                 "|" + "---|" * len(cols)]
        for row in table:
            lines.append("| " + " | ".join(_fmt(row.get(c)) for c in cols) + " |")
        (OUT / f"{name}.md").write_text("\n".join(lines) + "\n")
    print(json.dumps(payload, indent=2))
    return path


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
