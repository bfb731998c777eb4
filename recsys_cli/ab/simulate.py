"""`recsys ab simulate`: simulated shoppers drive a running `recsys serve` over HTTP.

Each simulated request picks a shopper of the synthetic world (uniformly,
seeded), asks ``POST /recommend`` for 10 items, and lets the shopper respond
with the generator's calibrated response model
(``data/sources/synthetic/shopper.py``): clicks by position-biased appeal,
then carts and purchases by the generator's buying mechanics. The events go
back through ``POST /feedback`` with the list's request id, so bandits update
as they would live. Afterwards it prints, per arm, the simulated CTR and the
*expected* CTR of the lists the arm served (the generator's truth), the lift
over a random recommender and over popularity, and whether the report's
winner is the truly best arm.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from recsys_cli.config import Config
from recsys_cli.errors import ConfigError, RecsysError


@dataclass
class ArmTally:
    lists: int = 0
    impressions: int = 0
    clicks: int = 0
    purchases: int = 0
    revenue: float = 0.0
    expected_clicks: float = 0.0
    order: list[int] = field(default_factory=list)  # request numbers this arm served


async def _drive(url: str, cfg: Config, response: Any, requests: int, concurrency: int, seed: int,
                 progress: Any) -> tuple[dict[str, ArmTally], list[str | None], int]:
    import httpx

    rng = np.random.default_rng(seed)
    users = response.user_ids
    picks = rng.integers(0, len(users), size=requests)
    tallies: dict[str, ArmTally] = {}
    arm_of: list[str | None] = [None] * requests
    failures = 0
    lock = asyncio.Lock()
    next_i = 0
    limits = httpx.Limits(max_connections=concurrency * 2, max_keepalive_connections=concurrency * 2)
    async with httpx.AsyncClient(base_url=url, timeout=30.0, limits=limits) as client:

        async def worker(wid: int) -> None:
            nonlocal next_i, failures
            local = np.random.default_rng([seed, wid])
            while True:
                async with lock:
                    if next_i >= requests:
                        return
                    i, next_i = next_i, next_i + 1
                user = users[int(picks[i])]
                r = await client.post("/recommend", json={"user_id": user, "k": 10})
                if r.status_code != 200:
                    failures += 1
                    continue
                body = r.json()
                items = [it["item_id"] for it in body["items"]]
                arm = body.get("arm") or "default"
                arm_of[i] = arm
                expected = response.expected([user], [items])
                events = response.sample(user, items, local)
                tally = tallies.setdefault(arm, ArmTally())
                tally.lists += 1
                tally.impressions += len(items)
                tally.expected_clicks += float(expected["click_prob"].sum())
                tally.order.append(i)
                if events:
                    batch = [{"user_id": user, "item_id": item, "event": event, "request_id": body["request_id"],
                              "position": items.index(item), **({"price": price} if event == "purchase" else {})}
                             for item, event, price in events]
                    f = await client.post("/feedback", json={"events": batch})
                    if f.status_code != 200:
                        failures += 1
                    tally.clicks += sum(e == "click" for _, e, _ in events)
                    bought = [p for _, e, p in events if e == "purchase"]
                    tally.purchases += len(bought)
                    tally.revenue += sum(bought)
                progress(1)

        await asyncio.gather(*(worker(w) for w in range(concurrency)))
    return tallies, arm_of, failures


def run(cfg: Config, name: str | None = None) -> dict[str, Any]:
    from recsys_cli.evaluation.business import for_config
    from recsys_cli.progress import progress_bar, status, stdout

    response = for_config(cfg)
    if response is None:
        raise ConfigError(f"ab simulate: data.source={cfg.data.source}; simulated shoppers need the synthetic shop "
                          "(their hidden tastes are the generator's)")
    url = cfg.ab.url or f"http://{cfg.serve.host}:{cfg.serve.port}"
    import httpx

    try:
        ready = httpx.get(f"{url}/health/ready", timeout=5.0)
    except httpx.HTTPError as exc:
        raise RecsysError(f"ab simulate: no server at {url} ({type(exc).__name__}); start `recsys serve` first"
                          ) from None
    if ready.status_code != 200:
        raise RecsysError(f"ab simulate: {url} is not ready: {ready.text[:200]}")
    requests, concurrency = cfg.ab.requests, cfg.ab.concurrency
    started = time.perf_counter()
    with progress_bar() as bar:
        task = bar.add_task(f"simulated shoppers -> {url}", total=requests)
        tallies, arm_of, failures = asyncio.run(_drive(url, cfg, response, requests, concurrency, cfg.ab.seed,
                                                       lambda n: bar.advance(task, n)))
    seconds = time.perf_counter() - started
    users = response.user_ids
    sample = np.random.default_rng(cfg.ab.seed).choice(len(users), min(2000, len(users)), replace=False)
    means = response.respond([users[i] for i in sample], [], catalog_mean=True)[1]
    random_ctr = float(means["click_prob"].mean())
    arms = {}
    for arm, t in sorted(tallies.items()):
        arms[arm] = {"lists": t.lists, "impressions": t.impressions, "ctr": t.clicks / max(t.impressions, 1),
                     "expected_ctr": t.expected_clicks / max(t.impressions, 1), "purchases": t.purchases,
                     "revenue": round(t.revenue, 2)}
    true_best = max(arms, key=lambda a: arms[a]["expected_ctr"]) if arms else None
    tail = [a for a in arm_of[-5000:] if a is not None]
    share_last = {a: tail.count(a) / max(len(tail), 1) for a in arms}
    popularity = arms.get("popularity", {}).get("ctr")
    for a in arms.values():
        a["lift_vs_random"] = a["ctr"] / random_ctr - 1 if random_ctr else None
        a["lift_vs_popularity"] = a["ctr"] / popularity - 1 if popularity else None
    result = {"url": url, "requests": requests, "failures": failures, "seconds": round(seconds, 1),
              "random_expected_ctr": random_ctr, "arms": arms, "true_best": true_best,
              "share_of_last_5000": share_last}
    report = None
    if not (len(arms) == 1 and "default" in arms):
        from recsys_cli.ab import report as ab_report

        report = ab_report.run(cfg, name or cfg.ab.name)
        result["report_best"] = report["best_arm"]
        result["report_best_p"] = report["best_p"]
        result["winner_is_true_best"] = report["best_arm"] == true_best
    from recsys_cli.atomic import write_text

    label = (name or cfg.ab.name or "default")
    write_text(cfg.paths.reports_dir / "ab" / f"{label}_simulation.json", json.dumps(result, indent=2) + "\n")
    from rich.table import Table

    table = Table(title=f"simulated shoppers: {requests:,} requests in {seconds:.0f}s ({failures} failed)",
                  title_justify="left")
    for col in ("arm", "lists", "simulated CTR", "expected CTR (truth)", "lift vs random", "lift vs popularity",
                "share of last 5,000"):
        table.add_column(col, justify="left" if col == "arm" else "right")
    for arm, a in arms.items():
        table.add_row(arm, f"{a['lists']:,}", f"{100 * a['ctr']:.2f}%", f"{100 * a['expected_ctr']:.2f}%",
                      f"{100 * a['lift_vs_random']:+.0f}%" if a["lift_vs_random"] is not None else "-",
                      f"{100 * a['lift_vs_popularity']:+.0f}%" if a["lift_vs_popularity"] is not None else "-",
                      f"{100 * share_last.get(arm, 0):.0f}%")
    stdout.print(table)
    if report is not None:
        verdict = "is" if result["winner_is_true_best"] else "is NOT"
        status(f"ab simulate: the report's best arm {report['best_arm']} (P(best) {report['best_p']:.3f}) {verdict} "
               f"the truly best arm {true_best} (random recommender: {100 * random_ctr:.2f}% CTR)")
    return result
