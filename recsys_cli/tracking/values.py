"""Names and values as MLflow accepts them: metric keys, param values, flattened configs and reports."""

from __future__ import annotations

import json
import re
from typing import Any

MAX_PARAM_VALUE = 6000  # MLflow's limit on a param value
MAX_KEY = 250  # and on a param/metric/tag key
MAX_TAG_VALUE = 8000


def metric_key(name: str) -> str:
    """An MLflow-safe metric/param key: ``ndcg@10`` -> ``ndcg_at_10``; other odd characters -> ``_``."""
    key = re.sub(r"[^\w.\-/ ]", "_", str(name).replace("@", "_at_"))
    return key[:MAX_KEY]


def param_value(value: Any) -> str:
    """A param value as text (JSON for non-strings), cut to MLflow's 6000 characters."""
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    if len(text) > MAX_PARAM_VALUE:
        note = f"...[{len(text)} chars]"
        text = text[: MAX_PARAM_VALUE - len(note)] + note
    return text


def flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    """Nested mappings -> ``{"a.b.c": leaf}``; lists and scalars are leaves; an empty mapping is ``{}``."""
    if isinstance(tree, dict) and tree:
        out: dict[str, Any] = {}
        for key, value in tree.items():
            out.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: tree} if prefix else {}


def numeric(tree: Any, prefix: str = "") -> dict[str, float]:
    """Every numeric leaf of a report (bools and text left out), under sanitised dotted keys."""
    out = {}
    for key, value in flatten(tree, prefix).items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            out[metric_key(key)] = float(value)
    return out


