"""Tuning overhead: what a study costs beyond fitting and evaluating its models.

Issue target: everything but model fit and evaluation is under 5% of a study's
wall time on the small synthetic shop. The study is the real ``tune`` stage
(``recsys_cli.stages.tune.run``: the leakage guard and loading the train
data, opening the stored study, sampling, pruning reports, storage writes,
the progress bar, best_params.json/trials.json and the two plots), timed from
call to return. Each trial records its fit and evaluation seconds (per-epoch
scoring for pruning counts as evaluation); overhead = wall - their sum. Every
repeat starts a fresh study (``tune.resume=false``).

    python bench/tune_overhead.py [--model als] [--trials 50] [--repeats 3] [--storage journal]

The overhead is mostly per study (loading the data, drawing the plots: about
1 s together), plus a few tens of ms per trial, so its share shrinks as
trials get longer or more numerous; the report lists both parts.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import _data
import _report

from recsys_cli.stages import features, tune


def one(overrides: list[str]) -> dict:
    cfg = _data.prepare("tune-synthetic-small", ["data.scale=small", *overrides, "tune.resume=false"])
    if not (cfg.paths.features / "tfidf.npz").is_file():
        features.run(cfg)
    started = time.perf_counter()
    tune.run(cfg)
    wall = time.perf_counter() - started
    trials = json.loads((cfg.paths.tune / "trials.json").read_text())
    phases = json.loads((cfg.paths.tune / "best_params.json").read_text())["seconds"]
    fit = sum(t["fit_seconds"] or 0.0 for t in trials)
    evaluation = sum(t["eval_seconds"] or 0.0 for t in trials)
    overhead = wall - fit - evaluation
    loop = phases["study"] - fit - evaluation  # sampling, storage, pruning reports, progress bar, callbacks
    return {
        "wall s": round(wall, 3), "fit s": round(fit, 3), "eval s": round(evaluation, 3),
        "overhead s": round(overhead, 3), "overhead %": round(100 * overhead / wall, 2),
        "load s": phases["load"], "plots s": phases["plots"], "per-trial ms": round(1000 * loop / len(trials), 1),
        "trials": len(trials), "pruned": sum(t["state"] == "pruned" for t in trials),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="als")
    parser.add_argument("--trials", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--storage", default="journal", choices=["journal", "sqlite"])
    parser.add_argument("--pruner", default="median", choices=["median", "halving", "none"])
    args = parser.parse_args()
    overrides = [f"model={args.model}", f"tune.trials={args.trials}", f"tune.storage={args.storage}",
                 f"tune.pruner={args.pruner}"]
    runs = [one(overrides) for _ in range(args.repeats)]
    keys = ("wall s", "fit s", "eval s", "overhead s", "overhead %", "load s", "plots s", "per-trial ms")
    median = {k: statistics.median(r[k] for r in runs) for k in keys}
    table = [{"run": i + 1, **r} for i, r in enumerate(runs)] + [{"run": "median", **median, "trials": args.trials, "pruned": ""}]
    _report.write(
        "tune_overhead",
        {"data": "synthetic small", "model": args.model, "trials": args.trials, "storage": args.storage,
         "pruner": args.pruner, "runs": runs, "median": median, "target": "overhead % < 5",
         "met": median["overhead %"] < 5.0},
        table,
    )


if __name__ == "__main__":
    main()
