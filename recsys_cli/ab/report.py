"""`recsys ab report [NAME]`: per arm what shoppers were shown and did, with intervals, tests and P(best).

Per arm, from the event store: lists served, impressions, users, clicks, purchases, revenue;

- CTR = clicks / impressions and conversion = purchases / impressions, each
  with a Wilson interval and a pooled two-proportion z-test against the first
  arm (the control);
- revenue per user (bootstrap over users, zero-revenue users included) and
  per 1,000 impressions (bootstrap over served lists), the difference to the
  control by bootstrap;
- the Bayesian probability that each arm has the best CTR (and the best
  reward rate: lists with a click / a purchase) under Beta posteriors;
- for hashed splits, a sample-ratio-mismatch chi-square of users per arm
  against the configured weights (p < 0.001 flags a broken split).

Writes ``reports/ab/<name>.json`` and ``reports/ab/<name>.png`` (traffic
share and cumulative CTR over time) and prints a table.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from recsys_cli.ab import stats
from recsys_cli.config import Config
from recsys_cli.errors import ConfigError, StageInputError

SRM_ALPHA = 0.001


def open_store(cfg: Config):  # noqa: ANN201 - EventStore
    from recsys_cli.serve.events import EventStore, store_url

    url = store_url(cfg.serve.events, cfg.paths.data_dir)
    if url is None:
        raise ConfigError("serve.events: none; an experiment report needs the event store")
    if url.startswith("sqlite:///") and not Path(url.split("sqlite:///", 1)[1]).is_file():
        raise StageInputError(f"{url.split('sqlite:///', 1)[1]}: no event store yet; run `recsys serve` first")
    try:
        return EventStore(url)
    except Exception as exc:  # noqa: BLE001 - one line, never a traceback
        raise StageInputError(f"event store {cfg.serve.events}: {type(exc).__name__}: {str(exc).splitlines()[0]}"
                              ) from None


def pick_experiment(store: Any, name: str | None) -> dict[str, Any]:
    rows = store.experiments()
    if not rows:
        raise StageInputError("no experiments in the event store; start one with `recsys serve ab=models`")
    if name is None:
        return rows[-1]
    found = next((r for r in rows if r["name"] == name), None)
    if found is None:
        raise ConfigError(f"ab report: no experiment {name!r}; known: {', '.join(r['name'] for r in rows)}")
    return found


def compute(store: Any, experiment: dict[str, Any], alpha: float = 0.05, n_boot: int = 2000, seed: int = 0
            ) -> dict[str, Any]:
    """The report's numbers (a plain dict, also written as JSON)."""
    name = experiment["name"]
    spec = experiment["spec"]
    arms = [a["name"] for a in spec["arms"]]
    weights = [float(a.get("weight", 1.0)) for a in spec["arms"]]
    reward = spec.get("reward", "click")
    rng = np.random.default_rng(seed)
    counts: dict[str, dict[str, float]] = {a: {} for a in arms}
    for r in store.query("SELECT arm, event, COUNT(*) AS n, SUM(COALESCE(price, 0) * quantity) AS revenue "
                         "FROM events WHERE experiment = :e GROUP BY arm, event", e=name):
        if r["arm"] in counts:
            counts[r["arm"]][r["event"]] = float(r["n"])
            if r["event"] == "purchase":
                counts[r["arm"]]["revenue"] = float(r["revenue"] or 0.0)
    lists, shown = {}, {}
    for r in store.query("SELECT arm, COUNT(*) AS lists, SUM(n) AS shown FROM served WHERE experiment = :e "
                         "GROUP BY arm", e=name):
        lists[r["arm"]], shown[r["arm"]] = int(r["lists"]), int(r["shown"] or 0)
    users = {r["arm"]: int(r["n"]) for r in store.query(
        "SELECT arm, COUNT(DISTINCT user_id) AS n FROM served WHERE experiment = :e GROUP BY arm", e=name)}
    rewarded = {r["arm"]: int(r["n"]) for r in store.query(
        "SELECT arm, COUNT(DISTINCT request_id) AS n FROM events WHERE experiment = :e AND event = :r "
        "AND request_id IS NOT NULL GROUP BY arm", e=name, r=reward)}
    user_revenue = _per_unit(store, name, "user_id", "served")
    list_revenue = _per_unit(store, name, "request_id", "served")
    list_impressions = _impressions_per_list(store, name)
    out_arms = []
    control = arms[0]
    for arm in arms:
        c = counts[arm]
        imp, clicks, buys = shown.get(arm, 0), int(c.get("click", 0)), int(c.get("purchase", 0))
        revenue = c.get("revenue", 0.0)
        n_users = users.get(arm, 0)
        row: dict[str, Any] = {
            "arm": arm, "lists": lists.get(arm, 0), "impressions": imp, "users": n_users, "clicks": clicks,
            "purchases": buys, "revenue": round(revenue, 2),
            "ctr": clicks / imp if imp else None, "ctr_ci": wilson_pair(clicks, imp, alpha),
            "conversion": buys / imp if imp else None, "conversion_ci": wilson_pair(buys, imp, alpha),
            "revenue_per_user": revenue / n_users if n_users else None,
            "revenue_per_user_ci": list(stats.bootstrap_mean(user_revenue.get(arm, np.zeros(0)), n_boot, alpha, rng)),
            "revenue_per_1000": 1000 * revenue / imp if imp else None,
            "revenue_per_1000_ci": list(stats.bootstrap_ratio(
                list_revenue.get(arm, np.zeros(0)), list_impressions.get(arm, np.zeros(0)), n_boot, alpha, rng,
                1000.0)),
            "reward_rate": rewarded.get(arm, 0) / lists[arm] if lists.get(arm) else None,
        }
        if arm != control:
            cc = counts[control]
            _, row["ctr_p_vs_control"] = stats.two_proportion(int(cc.get("click", 0)), shown.get(control, 0),
                                                              clicks, imp)
            _, row["conversion_p_vs_control"] = stats.two_proportion(
                int(cc.get("purchase", 0)), shown.get(control, 0), buys, imp)
            lo, hi, p = stats.bootstrap_difference(user_revenue.get(control, np.zeros(0)),
                                                   user_revenue.get(arm, np.zeros(0)), n_boot, alpha, rng)
            row["revenue_per_user_diff_ci"], row["revenue_per_user_p_vs_control"] = [lo, hi], p
        out_arms.append(row)
    p_best = stats.probability_best([r["clicks"] for r in out_arms], [r["impressions"] for r in out_arms], seed=seed)
    p_best_reward = stats.probability_best([rewarded.get(a, 0) for a in arms], [lists.get(a, 0) for a in arms],
                                           seed=seed + 1)
    for row, p, q in zip(out_arms, p_best, p_best_reward):
        row["p_best_ctr"], row[f"p_best_{reward}_rate"] = p, q
    best = max(out_arms, key=lambda r: r["p_best_ctr"])["arm"] if any(r["impressions"] for r in out_arms) else None
    srm = None
    if spec.get("allocation") == "hashed":
        chi2, p = stats.sample_ratio_mismatch([users.get(a, 0) for a in arms], weights)
        srm = {"chi2": chi2, "p": p, "mismatch": p is not None and p < SRM_ALPHA}
    return {"experiment": name, "status": experiment["status"], "allocation": spec.get("allocation"),
            "reward": reward, "alpha": alpha, "control": control, "arms": out_arms, "best_arm": best,
            "best_p": max(p_best) if out_arms else None, "srm": srm, "winner": experiment.get("winner")}


def wilson_pair(s: int, n: int, alpha: float) -> list[float | None]:
    return list(stats.wilson(s, n, alpha))


def _per_unit(store: Any, name: str, unit: str, table: str) -> dict[str, np.ndarray]:
    """Revenue per unit (user or list) per arm, zero for units that bought nothing."""
    units = store.query(f"SELECT DISTINCT arm, {unit} AS u FROM {table} WHERE experiment = :e ORDER BY arm, u", e=name)
    spent = {(r["arm"], r["u"]): float(r["revenue"] or 0.0) for r in store.query(
        f"SELECT arm, {unit} AS u, SUM(COALESCE(price, 0) * quantity) AS revenue FROM events "
        f"WHERE experiment = :e AND event = 'purchase' GROUP BY arm, {unit}", e=name)}
    out: dict[str, list[float]] = {}
    for r in units:
        out.setdefault(r["arm"], []).append(spent.get((r["arm"], r["u"]), 0.0))
    return {arm: np.asarray(v) for arm, v in out.items()}


def _impressions_per_list(store: Any, name: str) -> dict[str, np.ndarray]:
    """Items shown per served list, per arm, in the same order as ``_per_unit(..., "request_id", ...)``."""
    rows = store.query("SELECT arm, request_id AS u, n FROM served WHERE experiment = :e ORDER BY arm, u", e=name)
    out: dict[str, list[float]] = {}
    for r in rows:
        out.setdefault(r["arm"], []).append(float(r["n"] or 0))
    return {arm: np.asarray(v) for arm, v in out.items()}


def timeline(store: Any, name: str, bins: int = 40) -> dict[str, Any]:
    """Traffic share and cumulative CTR per arm over time."""
    served = store.query("SELECT arm, ts, n FROM served WHERE experiment = :e", e=name)
    if not served:
        return {}
    clicks = store.query("SELECT arm, ts FROM events WHERE experiment = :e AND event = 'click'", e=name)
    t = np.array([r["ts"] for r in served])
    edges = np.linspace(t.min(), t.max() + 1e-9, bins + 1)
    arms = sorted({r["arm"] for r in served})
    share, ctr = {}, {}
    total = np.histogram(t, edges)[0].astype(float)
    for arm in arms:
        mine = np.array([r["ts"] for r in served if r["arm"] == arm])
        share[arm] = (np.histogram(mine, edges)[0] / np.maximum(total, 1)).tolist()
        imp = np.histogram(mine, edges, weights=[float(r["n"] or 0) for r in served if r["arm"] == arm])[0]
        clk = np.histogram([r["ts"] for r in clicks if r["arm"] == arm], edges)[0]
        ctr[arm] = (np.cumsum(clk) / np.maximum(np.cumsum(imp), 1)).tolist()
    return {"t": ((edges[1:] - edges[0]) / 60.0).tolist(), "share": share, "cumulative_ctr": ctr}


def plot(line: dict[str, Any], title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    for arm, values in line.get("share", {}).items():
        a.plot(line["t"], values, label=arm)
        b.plot(line["t"], [100 * v for v in line["cumulative_ctr"][arm]], label=arm)
    a.set(title="traffic share", xlabel="minutes", ylabel="share of lists", ylim=(0, 1))
    b.set(title="cumulative CTR", xlabel="minutes", ylabel="CTR %")
    a.legend(), b.legend()
    fig.suptitle(title)
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.14, top=0.84, wspace=0.25)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run(cfg: Config, name: str | None) -> dict[str, Any]:
    from rich.table import Table

    from recsys_cli.atomic import write_text
    from recsys_cli.progress import status, stdout

    store = open_store(cfg)
    try:
        experiment = pick_experiment(store, name)
        result = compute(store, experiment, cfg.ab.alpha, cfg.ab.bootstrap, cfg.ab.seed)
        line = timeline(store, experiment["name"])
    finally:
        store.close_sync()
    out_dir = cfg.paths.reports_dir / "ab"
    write_text(out_dir / f"{result['experiment']}.json", json.dumps({**result, "timeline": line}, indent=2,
                                                                    default=float) + "\n")
    if line:
        plot(line, f"{result['experiment']} ({result['allocation']})", out_dir / f"{result['experiment']}.png")
    table = Table(title=f"experiment {result['experiment']} ({result['status']}, {result['allocation']}, "
                        f"reward {result['reward']})", title_justify="left")
    for col in ("arm", "lists", "impr.", "users", "CTR", "conversion", "rev/user", "rev/1k impr.", "p vs ctrl",
                "P(best)"):
        table.add_column(col, justify="left" if col == "arm" else "right")
    pct = lambda v, ci: "-" if v is None else f"{100 * v:.2f}% [{100 * ci[0]:.2f}, {100 * ci[1]:.2f}]"  # noqa: E731
    money = lambda v, ci: "-" if v is None else f"{v:.2f} [{ci[0]:.2f}, {ci[1]:.2f}]" if ci[0] is not None else (  # noqa: E731
        f"{v:.2f}")
    for r in result["arms"]:
        table.add_row(r["arm"], f"{r['lists']:,}", f"{r['impressions']:,}", f"{r['users']:,}",
                      pct(r["ctr"], r["ctr_ci"]), pct(r["conversion"], r["conversion_ci"]),
                      money(r["revenue_per_user"], r["revenue_per_user_ci"]),
                      money(r["revenue_per_1000"], r["revenue_per_1000_ci"]),
                      "control" if r["arm"] == result["control"] else (
                          f"{r['ctr_p_vs_control']:.3g}" if r.get("ctr_p_vs_control") is not None else "-"),
                      f"{r['p_best_ctr']:.3f}")
    stdout.print(table)
    if result["srm"] is not None:
        srm = result["srm"]
        verdict = "SAMPLE RATIO MISMATCH" if srm["mismatch"] else "no sample ratio mismatch"
        status(f"ab report: {verdict} (users per arm vs weights: chi2 {srm['chi2']:.2f}, p {srm['p']:.3g})")
    status(f"ab report: best CTR: {result['best_arm']} (P(best) {result['best_p']:.3f}) -> "
           f"{out_dir / (result['experiment'] + '.json')}")
    return result
