"""Search spaces as data: ``conf/tune/<model>.yaml`` -> Optuna suggestions.

A space is an ordered mapping of param name -> :class:`ParamSpace`
(int/float with ``low``/``high``, ``log`` and ``step``, or ``categorical``
with ``choices``). A param with ``when: {other: value}`` is sampled only when
the params before it took those values, so one file describes a conditional
space (e.g. bm25's ``k1`` and ``b`` only when ``weighting: bm25``). Spaces
are validated when the config loads (``TuneConfig`` and ``models.check_config``).
"""

from __future__ import annotations

from typing import Any

import optuna

from recsys_cli.config import ParamSpace

Space = dict[str, ParamSpace]


def active(space: Space, params: dict[str, Any]) -> list[str]:
    """The params of ``space`` that are sampled given the values in ``params`` (file order)."""
    names: list[str] = []
    for name, spec in space.items():
        if all(name_ in names and params.get(name_) == value for name_, value in (spec.when or {}).items()):
            names.append(name)
    return names


def suggest(trial: optuna.Trial, name: str, spec: ParamSpace) -> Any:
    if spec.type == "categorical":
        return trial.suggest_categorical(name, spec.choices)  # type: ignore[arg-type]
    if spec.type == "int":
        step = int(spec.step or 1)
        return trial.suggest_int(name, int(spec.low), int(spec.high), step=step, log=spec.log)  # type: ignore[arg-type]
    return trial.suggest_float(name, float(spec.low), float(spec.high), step=spec.step, log=spec.log)  # type: ignore[arg-type]


def sample(trial: optuna.Trial, space: Space) -> dict[str, Any]:
    """One point of the space: params in file order, each conditional one only when its condition holds."""
    chosen: dict[str, Any] = {}
    for name, spec in space.items():
        if all(p in chosen and chosen[p] == v for p, v in (spec.when or {}).items()):
            chosen[name] = suggest(trial, name, spec)
    return chosen


def contains(spec: ParamSpace, value: Any) -> bool:
    if spec.type == "categorical":
        return value in (spec.choices or [])
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    if spec.type == "int" and float(value) != int(value):
        return False
    return spec.low is not None and spec.high is not None and spec.low <= value <= spec.high


def default_point(space: Space, defaults: dict[str, Any]) -> dict[str, Any] | None:
    """The model's configured params as a point of the space, or None if one falls outside it."""
    point = {}
    for name in active(space, defaults):
        if name not in defaults or not contains(space[name], defaults[name]):
            return None
        point[name] = defaults[name]
    return point
