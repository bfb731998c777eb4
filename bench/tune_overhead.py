"""Tuning overhead: what a study costs beyond fitting and evaluating its models.

Issue target: everything but model fit and evaluation is under 5% of a study's
wall time on the small synthetic shop. The study is the real ``tune`` stage
(``recsys_cli.stages.tune.run``: the leakage guard and loading the train
data, opening the stored study, sampling, pruning reports, storage writes,
the progress bar, best_params.json/trials.json and the two plots), timed from
call to return, each repeat in a fresh Python process (so the imports the
stage does lazily -- Optuna's samplers, matplotlib, and scikit-learn for the
fANOVA importances -- are paid as a real ``recsys tune`` pays them). Each
trial records its fit and evaluation seconds (per-epoch scoring for pruning
counts as evaluation; reporting to the pruner as overhead); overhead = wall -
their sum. Every repeat starts a fresh study (``tune.resume=false``).

The overhead splits into a per-study part (loading the data; the plots:
importing matplotlib and scikit-learn and drawing) and a per-trial part
(TPE sampling, journal writes, pruner queries, progress bar); both are listed,
and the overhead without the plot step (``tune.plots=false`` skips it).

    python bench/tune_overhead.py [--model als] [--trials 50] [--repeats 3] [--storage journal] [--pruner median]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

import _data
import _report

NAME = "tune-synthetic-small"


def one(overrides: list[str]) -> dict:
    """One study, in this process: the stage's wall time and its parts."""
    from recsys_cli.stages import tune

    import shutil

    cfg = _data.prepare(NAME, ["data.scale=small", *overrides, "tune.resume=false"])
    shutil.rmtree(cfg.paths.tune, ignore_errors=True)  # a new study in a new journal, not one among earlier runs'
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
        "without plots %": round(100 * (overhead - phases["plots"]) / (wall - phases["plots"]), 2),
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
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: run one study, print its JSON
    args = parser.parse_args()
    if args.one:
        print("RESULT " + json.dumps(one(json.loads(args.one))))
        return
    overrides = [f"model={args.model}", f"tune.trials={args.trials}", f"tune.storage={args.storage}",
                 f"tune.pruner={args.pruner}"]
    from recsys_cli.stages import features

    cfg = _data.prepare(NAME, ["data.scale=small", *overrides])
    if not (cfg.paths.features / "tfidf.npz").is_file():
        features.run(cfg)
    runs = []
    for _ in range(args.repeats):
        out = subprocess.run([sys.executable, __file__, "--one", json.dumps(overrides)], check=True,
                             capture_output=True, text=True).stdout
        runs.append(json.loads(next(line for line in out.splitlines() if line.startswith("RESULT "))[7:]))
    keys = ("wall s", "fit s", "eval s", "overhead s", "overhead %", "without plots %", "load s", "plots s", "per-trial ms")
    median = {k: statistics.median(r[k] for r in runs) for k in keys}
    table = [{"run": i + 1, **r} for i, r in enumerate(runs)] + [{"run": "median", **median, "trials": args.trials, "pruned": ""}]
    _report.write(
        f"tune_overhead_{args.model}",
        {"data": "synthetic small", "model": args.model, "trials": args.trials, "storage": args.storage,
         "pruner": args.pruner, "runs": runs, "median": median, "target": "overhead % < 5",
         "met": median["overhead %"] < 5.0},
        table,
    )


if __name__ == "__main__":
    main()
