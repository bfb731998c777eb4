"""Does tuning pay? A 50-trial ALS study on ML-100K vs ALS's configured params.

Issue target: the study improves validation NDCG@10 over the default params,
and the gain holds on test. Protocol: RecBole's (``experiment=ml100k_recbole``:
per-user random 80/10/10, split seed 2020, every rating positive, full
ranking, train and valid items masked at test). The study tunes on the valid
window only (the real ``tune`` stage, a fresh study); then ALS is trained
twice on the train window -- with the configured params (``tune.apply_best=false``)
and with the tuned ones -- and each is evaluated once on test by the real
``eval`` stage (per-user bootstrap intervals). The default's valid score is
the study's trial 0 (the configured params are always enqueued first).

    python bench/tune_als_ml100k.py [--trials 50] [--pruner median] [--data ../shared/datasets/ml-100k]
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import _data
import _report

from recsys_cli import config
from recsys_cli.stages import evaluate, train, tune

ML100K = str(Path(__file__).resolve().parents[2] / "shared" / "datasets" / "ml-100k")


def test_metrics(cfg: config.Config) -> dict:
    train.run(cfg)
    evaluate.run(cfg)
    metrics = json.loads((cfg.paths.reports_dir / "metrics.json").read_text())
    info = json.loads((cfg.paths.models / "als" / "train_info.json").read_text())
    return {"params": {k: info["params"][k] for k in ("factors", "regularization", "alpha", "iterations")},
            "params_source": Path(info["params_source"]).name, "ndcg@10": metrics["ndcg@10"],
            "ci": [metrics.get("ndcg@10.ci_low"), metrics.get("ndcg@10.ci_high")],
            "recall@10": metrics["recall@10"], "users": metrics["users"]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=50)
    parser.add_argument("--pruner", default="median", choices=["median", "halving", "none"])
    parser.add_argument("--data", default=ML100K)
    args = parser.parse_args()
    base = ["experiment=ml100k_recbole", f"data.path={args.data}", "model=als", "eval.k=[10]"]
    cfg = _data.prepare("tune-ml100k-recbole", base)
    overrides = [f"paths.root={cfg.paths.root}", *base, f"tune.trials={args.trials}", f"tune.pruner={args.pruner}",
                 "tune.resume=false"]
    tuned_cfg = config.load(overrides)

    started = time.perf_counter()
    tune.run(tuned_cfg)
    wall = time.perf_counter() - started
    study = json.loads((tuned_cfg.paths.tune / "best_params.json").read_text())
    for name in ("history.png", "importance.png"):  # keep the study's plots with the result
        source = tuned_cfg.paths.reports_dir / "tune" / name
        if source.is_file():
            suffix = "" if args.pruner == "median" else f"_{args.pruner}"
            shutil.copyfile(source, _report.OUT / f"tune_als_ml100k{suffix}_{name}")

    default = test_metrics(config.load([*overrides, "tune.apply_best=false"]))
    tuned = test_metrics(tuned_cfg)
    valid_gain = study["value"] - study["default_value"]
    test_gain = tuned["ndcg@10"] - default["ndcg@10"]
    rows = [
        {"params": "configured (default)", "valid ndcg@10": study["default_value"], "test ndcg@10": default["ndcg@10"],
         "test 95% CI": f"{default['ci'][0]:.4f}-{default['ci'][1]:.4f}", **default["params"]},
        {"params": f"tuned ({study['trials']} trials, {study['pruned']} pruned)", "valid ndcg@10": study["value"],
         "test ndcg@10": tuned["ndcg@10"], "test 95% CI": f"{tuned['ci'][0]:.4f}-{tuned['ci'][1]:.4f}", **tuned["params"]},
        {"params": "gain", "valid ndcg@10": valid_gain, "test ndcg@10": test_gain,
         "test 95% CI": f"study wall {wall:.1f} s", "factors": "", "regularization": "", "alpha": "", "iterations": ""},
    ]
    _report.write(
        "tune_als_ml100k" + ("" if args.pruner == "median" else f"_{args.pruner}"),
        {"data": "ML-100K", "protocol": "ml100k_recbole (split seed 2020)", "trials": args.trials,
         "pruner": args.pruner, "study_wall_s": round(wall, 2), "study": study, "default": default, "tuned": tuned,
         "valid_gain": valid_gain, "test_gain": test_gain,
         "valid_gain_rel": valid_gain / study["default_value"], "test_gain_rel": test_gain / default["ndcg@10"],
         "target": "valid NDCG@10 above the default's, and the gain holds on test",
         "met": valid_gain > 0 and test_gain > 0},
        rows,
    )


if __name__ == "__main__":
    main()
