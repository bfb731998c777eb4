"""``recsys eval compare A B``: a paired test between two trained models on the same split.

Both models (``data/models/A`` and ``data/models/B``, from ``recsys train
model=A`` and ``model=B``) are scored on exactly the same users and targets;
the per-user values of ``eval.metric`` are compared with a paired bootstrap
interval of the mean difference and a Wilcoxon signed-rank test
(:func:`recsys_cli.evaluation.significance.paired_compare`). Writes
``reports/compare/A_vs_B.json``.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import numpy as np
import polars as pl
from rich.table import Table

from recsys_cli.atomic import write_text
from recsys_cli.config import Config, ModelConfig
from recsys_cli.errors import ConfigError
from recsys_cli.evaluation.significance import paired_compare
from recsys_cli.progress import status, stdout


def run(cfg: Config, a: str, b: str) -> dict[str, Any]:
    from recsys_cli.stages.eval_ranking import score
    from recsys_cli.stages.eval_setup import load_setup
    from recsys_cli.stages.evaluate import fit_windows
    from recsys_cli.stages.inputs import trained_model

    if a == b:
        raise ConfigError(f"eval compare: compare two different models, got {a!r} twice")
    cfgs = {name: dataclasses.replace(cfg, model=ModelConfig(name=name)) for name in (a, b)}
    windows = {name: fit_windows(c) for name, c in cfgs.items()}
    if windows[a] != windows[b]:
        raise ConfigError(f"eval compare: {a} was fit on {'+'.join(windows[a])} but {b} on {'+'.join(windows[b])}; "
                          "train both the same way")
    setup = load_setup(cfg, windows[a])
    frames = {}
    for name, c in cfgs.items():
        model, fallback = trained_model(c)
        out = score(c, setup, model, fallback, show_progress=True, with_segments=False)
        frames[name] = out.per_user.filter(pl.col("activity") != "cold").select("user_idx", cfg.eval.metric)
    joined = frames[a].join(frames[b], on="user_idx", suffix="_b").sort("user_idx")
    metric = cfg.eval.metric
    result = paired_compare(joined[metric].to_numpy(), joined[f"{metric}_b"].to_numpy(),
                            n_boot=max(cfg.eval.bootstrap, 200), alpha=cfg.eval.alpha, seed=cfg.seed,
                            metric=metric, name_a=a, name_b=b)
    result = {"a": a, "b": b, "metric": metric,
              **{k: (v.item() if isinstance(v, np.generic) else v) for k, v in result.items()}}
    path = cfg.paths.reports_dir / "compare" / f"{a}_vs_{b}.json"
    write_text(path, json.dumps(result, indent=2, default=float) + "\n")
    print_result(result)
    status(f"eval compare: -> {path}")
    return result


def print_result(r: dict[str, Any]) -> None:
    table = Table(title=f"{r['b']} vs {r['a']}: paired test on {r['n_users']:,} users ({r['metric']})")
    for col in ("", r["a"], r["b"], "difference (B - A)", "CI", "Wilcoxon p"):
        table.add_column(col, justify="right")
    table.add_row(r["metric"], f"{r['mean_a']:.4f}", f"{r['mean_b']:.4f}", f"{r['diff']:+.4f}",
                  f"{r['diff_lo']:+.4f}..{r['diff_hi']:+.4f}", f"{r['p_wilcoxon']:.4g}")
    stdout.print(table)
    stdout.print(r["verdict"], highlight=False)
