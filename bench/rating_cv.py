"""Rating prediction on ML-100K, 5-fold CV: recsys models next to surprise's own run.

Rows: svd / svdpp / knnbaseline with surprise's defaults (compare ANCHORS:
0.934 / 0.919 / 0.931), the tuned single models and the learned blend
(conf/experiment/ml100k_rating_blend.yaml). The blend's component settings
were chosen on fold seed 0, so the table also reports fold seed 1 (other
folds) to show the figure is not an artefact of the folds it was tuned on.
A peer row runs surprise.model_selection.cross_validate itself on the raw
u.data. Target (issue 3): RMSE <= 0.905.

    python bench/rating_cv.py [--fold-seeds 0 1] [--skip-defaults]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import _report

from recsys_cli import config
from recsys_cli.stages import ingest, split
from recsys_cli.stages.evaluate import cross_validate

ML100K = str(Path(__file__).resolve().parents[2] / "shared" / "datasets" / "ml-100k")
DEFAULTS = ["svd", "svdpp", "knnbaseline"]
BLEND = Path(__file__).resolve().parents[1] / "conf" / "experiment" / "ml100k_rating_blend.yaml"


def blend_components() -> list[dict]:
    import yaml

    return yaml.safe_load(BLEND.read_text())["model"]["components"]


def cv(root: Path, data: str, overrides: list[str]) -> dict:
    cfg = config.load(["experiment=ml100k_rating", f"data.path={data}", f"paths.root={root}", *overrides])
    if not (cfg.paths.processed / "ids.npz").exists():
        ingest.run(cfg)
        split.run(cfg)
    started = time.perf_counter()
    metrics = cross_validate(cfg)
    metrics["seconds"] = round(time.perf_counter() - started, 1)
    return metrics


def surprise_peer(data: str) -> dict:
    from surprise import SVD, Dataset, Reader
    from surprise.model_selection import KFold, cross_validate as s_cv

    ds = Dataset.load_from_file(str(Path(data) / "u.data"), reader=Reader(line_format="user item rating timestamp", sep="\t"))
    res = s_cv(SVD(random_state=0), ds, measures=["RMSE", "MAE"], cv=KFold(5, random_state=0), verbose=False)
    return {"rmse": float(res["test_rmse"].mean()), "mae": float(res["test_mae"].mean())}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fold-seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--skip-defaults", action="store_true")
    parser.add_argument("--data", default=ML100K)
    args = parser.parse_args()
    root = Path(tempfile.gettempdir()) / "recsys-bench-rating"  # fixed: an interrupted run resumes
    cache_file = root / "results.json"
    cache = json.loads(cache_file.read_text()) if cache_file.is_file() else {}
    comps = blend_components()
    rows = []
    runs: list[tuple[str, list[str]]] = []
    if not args.skip_defaults:
        runs += [(f"{m} (surprise defaults)", [f"model={m}"]) for m in DEFAULTS]
    for comp in comps:
        params = [f"model.{k}={json.dumps(v)}" for k, v in comp["params"].items()]
        label = f"{comp['name']} (tuned: {', '.join(f'{k}={v}' for k, v in comp['params'].items())})"
        runs.append((label, [f"model={comp['name']}", *params]))
    runs.append(("hybrid: learned rating blend of the tuned models", ["model=hybrid", *_blend_overrides()]))
    for label, extra in runs:
        row = {"model": label}
        for seed in args.fold_seeds:
            key = json.dumps([extra, seed])
            if key not in cache:
                cache[key] = cv(root, args.data, [*extra, f"eval.fold_seed={seed}"])
                cache_file.write_text(json.dumps(cache))
            m = cache[key]
            row[f"rmse (folds {seed})"] = round(m["rmse"], 4)
            row[f"mae (folds {seed})"] = round(m["mae"], 4)
            row[f"s (folds {seed})"] = m["seconds"]
        rows.append(row)
    peer = surprise_peer(args.data)
    rows.append({"model": "peer: surprise cross_validate(SVD(), KFold(5, random_state=0))",
                 **{f"rmse (folds {s})": round(peer["rmse"], 4) if s == args.fold_seeds[0] else None for s in args.fold_seeds}})
    best = min(r[f"rmse (folds {args.fold_seeds[-1]})"] for r in rows if r.get(f"rmse (folds {args.fold_seeds[-1]})"))
    _report.write("ml100k_rating", {"results": rows, "best_rmse_last_folds": best, "target": 0.905,
                                    "meets_target": best <= 0.905}, rows)


def _blend_overrides() -> list[str]:
    comps = ", ".join(
        "{name: %s, weight: 1.0, params: {%s}}" % (c["name"], ", ".join(f"{k}: {json.dumps(v)}" for k, v in c["params"].items()))
        for c in blend_components()
    )
    return ["model.mode=meta", "model.objective=rating", f"model.components=[{comps}]"]


if __name__ == "__main__":
    main()
