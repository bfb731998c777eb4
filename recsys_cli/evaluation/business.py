"""Business proxies on the synthetic shop: expected CTR, conversion and revenue of the shown lists.

The synthetic generator knows every shopper's true preferences, so a list of
recommendations can be scored by what the shopper would be expected to do,
under the calibrated shopper model that ``recsys ab simulate`` also uses
(``recsys_cli.data.sources.synthetic.shopper``: an appeal that drives both
popularity and clicks, position bias, a dominant no-click option, the
generator's own buying mechanics). Per recommendation slot shown (padding
never counts):

  ctr                 expected clicks per slot shown
  conversion          expected purchases per slot shown (click, then buy)
  revenue_per_1000    expected revenue per 1,000 slots shown (catalog prices)

and the same for two baselines on the same users and the same number of slots:

  random.*            a uniformly random recommender: the exact expectation
                      (each user's mean over the whole catalog), not a draw
  popularity.*        the given popularity lists (when given)
  lift_vs_random.*    metric / random - 1      (None when the baseline is 0)
  lift_vs_popularity.*  metric / popularity - 1

Only for ``data.source == "synthetic"``: ``for_config`` returns None otherwise.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from recsys_cli.data.sources.synthetic.shopper import ShopperResponse
from recsys_cli.data.sources.synthetic.truth import id_matrix

METRICS = ("ctr", "conversion", "revenue_per_1000")
__all__ = ["METRICS", "ShopperResponse", "business_metrics", "for_config"]


def for_config(cfg: Any) -> ShopperResponse | None:
    """The response model of the configured data (a ``Config`` or its ``DataConfig``); None unless synthetic."""
    data = getattr(cfg, "data", cfg)
    if getattr(data, "source", None) != "synthetic":
        return None
    return ShopperResponse.from_config(data.scale, data.seed)


def _per_slot(resp: dict[str, np.ndarray]) -> dict[str, float | None]:
    n = int(resp["shown"].sum())
    if n == 0:
        return dict.fromkeys(METRICS)
    return {
        "ctr": float(resp["click_prob"].sum() / n),
        "conversion": float(resp["purchase_prob"].sum() / n),
        "revenue_per_1000": float(1000.0 * resp["revenue"].sum() / n),
    }


def _lift(value: float | None, base: float | None) -> float | None:
    if value is None or base is None or base <= 0.0:
        return None
    return value / base - 1.0


def _popularity_rows(popular_item_ids: Any, n_rows: int, width: int) -> Any:
    """Per-user popularity lists cut to ``width``; a single list is shown to every user."""
    if isinstance(popular_item_ids, np.ndarray) and popular_item_ids.ndim == 2:
        return popular_item_ids[:, :width]
    rows = list(popular_item_ids)
    flat = not rows or all(x is None or isinstance(x, (str, float)) for x in rows)
    if flat:
        return [rows[:width]] * n_rows
    return [list(r)[:width] for r in rows]


def business_metrics(
    response: ShopperResponse,
    user_ids: Any,
    top_item_ids: Any,
    popular_item_ids: Any = None,
) -> dict[str, Any]:
    """Expected business proxies of the lists ``top_item_ids`` shown to ``user_ids`` (see the module doc).

    ``user_ids``: external ids, one per row; ``top_item_ids``: 2-D external
    item ids (None/NaN/"" pad); ``popular_item_ids``: one popularity list for
    everyone, or one per user; it is compared at the same list length.
    Returns flat keys ``ctr``, ``conversion``, ``revenue_per_1000``,
    ``random.<m>``, ``popularity.<m>``, ``lift_vs_random.<m>``,
    ``lift_vs_popularity.<m>``, plus ``users`` and ``slots`` (shown).
    """
    users = list(user_ids)
    lists = [top_item_ids]
    if popular_item_ids is not None:
        width = id_matrix(top_item_ids, len(users)).shape[1]
        lists.append(_popularity_rows(popular_item_ids, len(users), width))
    outs, means = response.respond(users, lists, catalog_mean=True)
    assert means is not None
    top = outs[0]
    out: dict[str, Any] = {"users": len(users), "slots": int(top["shown"].sum())}
    out.update(_per_slot(top))
    # a random recommender showing each user as many slots as the model did
    n_shown = top["shown"].sum(axis=1)
    total = n_shown.sum()
    for m, key in zip(METRICS, ("click_prob", "purchase_prob", "revenue")):
        scale = 1000.0 if m == "revenue_per_1000" else 1.0
        out[f"random.{m}"] = float(scale * (means[key] * n_shown).sum() / total) if total else None
    if len(outs) > 1:
        out.update({f"popularity.{m}": v for m, v in _per_slot(outs[1]).items()})
    for m in METRICS:
        out[f"lift_vs_random.{m}"] = _lift(out[m], out[f"random.{m}"])
        if len(outs) > 1:
            out[f"lift_vs_popularity.{m}"] = _lift(out[m], out[f"popularity.{m}"])
    return out
