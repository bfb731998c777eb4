"""Shop-behaviour figures of an event log, comparable with public shops' logs.

Used by the split report and the ingest summary so anyone can check that the
synthetic data (or their own) looks like a real shop: event mix, funnel
ratios, session shape, long tail, prices, daily/weekly/yearly cycles, devices.
Figures that need a column the data lacks are left out.
"""

from __future__ import annotations

from typing import Any

import polars as pl


def _r(x: float | None, nd: int = 3) -> float | None:
    return None if x is None else round(float(x), nd)


def profile(events: pl.DataFrame, items: pl.DataFrame | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "events": events.height,
        "users": events["user_id"].n_unique(),
        "items": events["item_id"].n_unique(),
    }
    if events.height == 0:
        return out
    ts = events["timestamp"]
    out["first_event"] = str(ts.min())
    out["last_event"] = str(ts.max())
    counts = dict(events.group_by("event").len().iter_rows())
    out["event_mix"] = {k: _r(v / events.height, 4) for k, v in sorted(counts.items())}
    views, carts, buys = counts.get("view", 0), counts.get("add_to_cart", 0), counts.get("purchase", 0)
    if carts:
        out["views_per_cart"] = _r(views / carts, 2)
    if buys:
        out["carts_per_purchase"] = _r(carts / buys, 2)

    per_user = events.group_by("user_id").len()["len"]
    out["events_per_user"] = {"median": _r(per_user.median(), 1), "mean": _r(per_user.mean(), 1)}
    per_item = events.group_by("item_id").len()["len"]
    out["events_per_item"] = {
        "median": _r(per_item.median(), 1),
        "mean": _r(per_item.mean(), 1),
        "mean_over_median": _r(per_item.mean() / per_item.median(), 2),
    }

    if events["session_id"].null_count() < events.height:
        sess = events.group_by("session_id").agg(
            n=pl.len(), bought=(pl.col("event") == "purchase").any()
        )
        n = sess["n"]
        out["sessions"] = sess.height
        out["events_per_session"] = {
            "median": _r(n.median(), 1),
            "mean": _r(n.mean(), 2),
            "p95": _r(n.quantile(0.95), 1),
        }
        out["sessions_with_purchase"] = _r(sess["bought"].mean(), 4)
    if buys and events["price"].null_count() < events.height:
        p = events.filter(pl.col("event") == "purchase")["price"]
        out["purchase_price"] = {
            "median": _r(p.median(), 2),
            "mean": _r(p.mean(), 2),
            "q25": _r(p.quantile(0.25), 2),
            "q75": _r(p.quantile(0.75), 2),
            "max": _r(p.max(), 2),
        }
        out["revenue"] = _r(p.sum(), 2)

    hours = events.group_by(ts.dt.hour().alias("h")).len().sort("h")
    if hours.height == 24:
        peak = hours.sort("len", descending=True).row(0)
        trough = hours.sort("len").row(0)
        out["daily_cycle"] = {"peak_hour": peak[0], "trough_hour": trough[0], "peak_over_trough": _r(peak[1] / max(trough[1], 1), 1)}
    wd = events.group_by(ts.dt.weekday().alias("d")).len()
    wd_counts = dict(wd.iter_rows())
    if len(wd_counts) == 7:
        weekend = (wd_counts[5] + wd_counts[6] + wd_counts[7]) / 3
        weekday = (wd_counts[1] + wd_counts[2] + wd_counts[3] + wd_counts[4]) / 4
        out["fri_to_sun_over_mon_to_thu"] = _r(weekend / weekday, 3)
    months = events.group_by(ts.dt.month().alias("m")).len()
    m = dict(months.iter_rows())
    if all(k in m for k in (10, 11, 12)):
        out["nov_dec_over_oct"] = _r((m[11] + m[12]) / 2 / m[10], 2)

    if events["device"].null_count() < events.height:
        dev = events.group_by("device").len()
        out["device_mix"] = {(k if k is not None else "unknown"): _r(v / events.height, 3)
                             for k, v in sorted(dev.iter_rows(), key=lambda kv: (kv[0] is None, kv[0] or ""))}

    if items is not None and items.height and items["category"].null_count() < items.height:
        top = items.select("item_id", top=pl.col("category").str.split(" > ").list.first())
        joined = events.join(top, on="item_id", how="left")
    else:
        joined = None
    if joined is not None and joined["top"].null_count() < joined.height:  # only events of categorised items count
        share = joined.filter(pl.col("top").is_not_null()).group_by("top").len().sort("len", descending=True, maintain_order=True)
        out["top_category"] = share["top"][0]
        out["top_category_event_share"] = _r(share["len"][0] / events.height, 3)
        if buys:
            bshare = joined.filter(pl.col("event") == "purchase").group_by("top").len()
            mine = bshare.filter(pl.col("top") == share["top"][0])["len"]
            out["top_category_purchase_share"] = _r((mine[0] if len(mine) else 0) / buys, 3)
    return out


# Ranges seen in public shop logs (shared ANCHORS), for the printed check.
REAL_SHOP = {
    "views_per_cart": (26.0, 44.0),
    "carts_per_purchase": (1.5, 3.3),
    "sessions_with_purchase": (0.055, 0.073),
}
