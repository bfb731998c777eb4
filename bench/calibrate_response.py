"""Calibrate the simulated shopper (recsys_cli/data/sources/synthetic/shopper.py) against offline NDCG@10.

On the default small shop, three arms (popularity, ALS, the default hybrid)
rank the same warm test shoppers' top-10 lists (held-out fits, seen items
excluded, as `recsys eval` does). For a grid of the click model's sensitivity
``k`` and no-click weight ``C`` it computes each arm's simulated CTR and
compares every pair's CTR lift with its NDCG@10 ratio. Calibrated: arms rank
by CTR as by NDCG, and every lift is within 2x of the NDCG ratio (|log ratio|
<= log 2), with a CTR in the range real recommendation widgets report
(0.5%-10% per slot). The chosen point is the grid point with the smallest
worst |log(lift / NDCG ratio)|; it is what shopper.py ships.

    python bench/calibrate_response.py [--work /tmp/recsys-bench-calibrate]
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

import _report

from recsys_cli import config
from recsys_cli.data.sources.synthetic.shopper import NO_CLICK, SENSITIVITY, ShopperResponse
from recsys_cli.evaluation.metrics import evaluate
from recsys_cli.stages.eval_setup import load_setup
from recsys_cli.stages.inputs import trained_model

ARMS = ("popularity", "als", "hybrid")


def recsys(*args: str) -> None:
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "recsys_cli.cli", *args], env=env, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"recsys {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")


def prepare(work: Path) -> None:
    if not (work / "data" / "models" / "als" / "model").is_dir():
        print("recsys run (default small shop, ALS)", flush=True)
        recsys("run", f"paths.root={work}", "tracking=none")
    for model in ("popularity", "hybrid"):
        if not (work / "data" / "models" / model / "model").is_dir():
            print(f"recsys train model={model}", flush=True)
            recsys("train", f"model={model}", f"paths.root={work}", "tracking=none")


def lists(work: Path) -> tuple[list[str], dict[str, np.ndarray], dict[str, float]]:
    """Warm test shoppers, each arm's top-10 item ids for them, and each arm's NDCG@10 on them."""
    tops, ndcg, users = {}, {}, None
    for arm in ARMS:
        cfg = config.load([f"paths.root={work}", "tracking=none", f"model={arm}"])
        setup = load_setup(cfg, ["train"])
        model, _ = trained_model(cfg)
        warm = setup.test_users[setup.known[setup.test_users]]
        result = evaluate(model.recommend, warm, setup.relevant, setup.n_items, [10], exclude=setup.seen)
        users = result.users if users is None else users
        assert np.array_equal(users, result.users)
        tops[arm] = np.asarray(setup.items.ids, dtype=object)[np.maximum(result.top, 0)]
        ndcg[arm] = result.summary["ndcg@10"]
    return [str(u) for u in np.asarray(setup.users.ids)[users]], tops, ndcg


def ctr(response: ShopperResponse, users: list[str], tops: dict[str, np.ndarray]) -> dict[str, float]:
    outs, means = response.respond(users, [tops[a] for a in ARMS], catalog_mean=True)
    out = {arm: float(o["click_prob"].sum() / o["shown"].sum()) for arm, o in zip(ARMS, outs)}
    out["random"] = float(means["click_prob"].mean())
    return out


def score(rates: dict[str, float], ndcg: dict[str, float]) -> tuple[float, bool, dict[str, float]]:
    worst, ordered, pairs = 0.0, True, {}
    for a, b in itertools.combinations(ARMS, 2):
        lift, ratio = rates[b] / rates[a], ndcg[b] / ndcg[a]
        pairs[f"{b}/{a}"] = round(lift / ratio, 3)
        worst = max(worst, abs(math.log(lift / ratio)))
        ordered &= (rates[b] > rates[a]) == (ndcg[b] > ndcg[a])
    return worst, ordered, pairs


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", type=Path, default=Path("/tmp/recsys-bench-calibrate"))
    ap.add_argument("--users", type=int, default=1500)
    args = ap.parse_args()
    prepare(args.work)
    users, tops, ndcg = lists(args.work)
    if len(users) > args.users:
        pick = np.random.default_rng(0).choice(len(users), args.users, replace=False)
        users = [users[i] for i in pick]
        tops = {a: t[pick] for a, t in tops.items()}
    cfg = config.load([f"paths.root={args.work}", "tracking=none"])
    base = ShopperResponse.from_config(cfg.data.scale, cfg.data.seed)
    rows, best = [], None
    for k, c in itertools.product((0.25, 0.35, 0.5, 0.7, 1.0), (5.0, 10.0, 20.0, 40.0, 80.0)):
        response = ShopperResponse(base.world, sensitivity=k, no_click=c)
        response._log_norm = base._norms()  # the appeal normaliser does not depend on k or C
        rates = ctr(response, users, tops)
        worst, ordered, pairs = score(rates, ndcg)
        realistic = 0.005 <= rates["als"] <= 0.10
        row = {"k": k, "C": c, **{f"ctr {a}": round(100 * rates[a], 3) for a in (*ARMS, "random")},
               **{f"lift/ndcg {p}": v for p, v in pairs.items()}, "worst |log|": round(worst, 3),
               "ordered": ordered, "ok": ordered and worst <= math.log(2) and realistic}
        rows.append(row)
        if row["ok"] and (best is None or worst < best["worst |log|"]):
            best = row
        print(row, flush=True)
    shipped = next(r for r in rows if r["k"] == SENSITIVITY and r["C"] == NO_CLICK)
    _report.write("calibrate_response", {
        "ndcg@10": {a: round(v, 4) for a, v in ndcg.items()}, "users": len(users),
        "chosen": best, "shipped": shipped, "shipped_is_chosen": best is not None and shipped == best,
        "grid": rows,
    }, [shipped] + ([best] if best is not None and best != shipped else []))


if __name__ == "__main__":
    main()
