"""How a synthetic shopper responds to a *list* of recommendations: the calibrated click model.

Used by the offline business proxies of ``recsys eval`` and by the online
simulator of ``recsys ab simulate``, so both tell the same story.

What real click logs show, and how the model has it:

* **an item appeal that drives both popularity and clicks.** The appeal of
  product i to shopper u is the rate at which the generator's shopper picks
  it when browsing (``events.py``): the chance that a slot is in its category
  ``q_u(L_i)``, times its share of that category's candidates ``pi_i``
  (popularity), times ``exp(utility_ui)`` (taste, popularity, trend, launch
  boost, price fit). Normalised per shopper to mean 1 over the catalog:
  ``p_ui``. What makes a product popular in the log makes it clicked here.
* **position bias.** The slot at 0-based position r is examined with
  ``theta_r = 1 / log2(r + 2)`` (1 at the top, 0.29 at the tenth).
* **a no-click option that dominates.** An examined product is clicked with
  ``p^k / (p^k + C)``: the shopper mostly does nothing; clicks go to products
  far above their average appeal.
* **purchases** follow a click with the generator's own buying mechanics:
  ``P(buying session) * cart_prob * CHECKOUT``; revenue at the catalog price.

``k`` (``SENSITIVITY``) and ``C`` (``NO_CLICK``) were calibrated on the
default small shop (``bench/calibrate_response.py``) so that arms' simulated
CTRs rank as their offline NDCG@10 and each CTR lift stays within 2x of the
NDCG ratio (see the README: "The simulated shopper"). Slots of one list are
independent given examination (no fatigue; a shopper may click several).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from recsys_cli.data.sources.synthetic import World, build_world, calendar, item_ids, user_ids
from recsys_cli.data.sources.synthetic.events import CHECKOUT, DEVICE_BUY, STAY_ON_DEVICE, Simulator
from recsys_cli.data.sources.synthetic.truth import _is_pad, id_matrix

SENSITIVITY = 0.5  # k: how sharply clicks follow appeal (calibrated)
NO_CLICK = 20.0  # C: weight of doing nothing against a product of appeal 1 (calibrated)
CHUNK_CELLS = 2_000_000
OUTPUTS = ("click_prob", "purchase_prob", "revenue")


def position_bias(n: int) -> np.ndarray:
    """Examination probability of positions 0..n-1: 1 / log2(r + 2)."""
    return 1.0 / np.log2(np.arange(n) + 2.0)


class ShopperResponse:
    """Expected (and sampled) responses of a synthetic world's shoppers to recommendation lists."""

    def __init__(self, world: World, day: float | None = None, sensitivity: float = SENSITIVITY,
                 no_click: float = NO_CLICK) -> None:
        self.world = world
        self.day = float(calendar.N_DAYS if day is None else day)
        self.sensitivity, self.no_click = float(sensitivity), float(no_click)
        self.sim = sim = Simulator(world.catalog, world.shoppers)
        cat, sh = world.catalog, world.shoppers
        self.n_users, self.n_items = sh.n, cat.n
        # catalog order: the simulator keeps products sorted by category (perm); undo it
        pop_weight = np.empty(cat.n)
        pop_weight[sim.perm] = sim.pop_weight
        leaf = cat.leaf.astype(np.int64)
        leaf_weight = np.bincount(leaf, weights=pop_weight, minlength=int(leaf.max()) + 1)
        self._log_pi = np.log(pop_weight / leaf_weight[leaf])
        self._leaf = leaf
        self._vec_t = np.ascontiguousarray(cat.vec.T)
        self._price = cat.price.astype(np.float64)
        users = np.arange(sh.n)
        p_buy = (1.0 - STAY_ON_DEVICE) / len(DEVICE_BUY) * sum(
            sim.buy_prob(users, np.full(sh.n, d)) for d in range(len(DEVICE_BUY)))
        self._p_buy = p_buy + STAY_ON_DEVICE * sim.buy_prob(users, sh.device)
        self._log_norm: np.ndarray | None = None  # per shopper: log of mean appeal over the catalog
        self._user_of: dict[str, int] | None = None
        self._item_of: dict[str, int] | None = None

    @classmethod
    def from_config(cls, scale: str, seed: int, day: float | None = None) -> ShopperResponse:
        return _cached(scale, int(seed), None if day is None else float(day))

    # ------------------------------------------------------------------ ids
    def user_index(self, ids: Sequence[Any]) -> np.ndarray:
        if self._user_of is None:
            self._user_of = {u: i for i, u in enumerate(user_ids(self.n_users))}
        ids = list(ids)
        idx = np.fromiter((self._user_of.get(u, -1) if isinstance(u, str) else -1 for u in ids), np.int64, len(ids))
        bad = [ids[i] for i in np.flatnonzero(idx < 0)[:5]]
        if bad:
            raise ValueError(f"{int((idx < 0).sum())} user id(s) not in the synthetic world "
                             f"({self.n_users:,} users u000000..u{self.n_users - 1:06d}), e.g. {bad}")
        return idx

    @property
    def user_ids(self) -> list[str]:
        return user_ids(self.n_users)

    @property
    def item_ids(self) -> list[str]:
        return item_ids(self.n_items)

    def item_index(self, ids: Any, n_rows: int | None = None) -> np.ndarray:
        """Product indices of a 2-D array of item ids; -1 for padding (None, NaN, ""), ValueError for others."""
        if self._item_of is None:
            self._item_of = {p: i for i, p in enumerate(item_ids(self.n_items))}
        arr = id_matrix(ids, n_rows)
        flat = arr.ravel()
        lookup = self._item_of
        idx = np.fromiter(
            (-1 if _is_pad(x) else (lookup.get(x, -2) if isinstance(x, str) else -2) for x in flat), np.int64, flat.size)
        bad = [flat[i] for i in np.flatnonzero(idx == -2)[:5]]
        if bad:
            raise ValueError(f"{int((idx == -2).sum())} item id(s) not in the synthetic world "
                             f"({self.n_items:,} products p000000..p{self.n_items - 1:06d}), e.g. {bad}")
        return idx.reshape(arr.shape)

    def expected(self, user_ids_: Any, item_ids_: Any) -> dict[str, np.ndarray]:
        """Per slot of one list per user: click_prob (position bias included), purchase_prob, revenue, shown."""
        return self.respond(user_ids_, [item_ids_])[0][0]

    def expected_catalog(self, user_ids_: Any) -> dict[str, np.ndarray]:
        """Dense (users, n_items) responses of every product shown at the top slot (oracle rankings, checks)."""
        users = self.user_index(user_ids_)
        sh = self.world.shoppers
        click = self._click_given_seen(self.appeal(users))
        affinity = sh.taste[users] @ self._vec_t
        buy = self.sim.cart_prob(affinity, np.arange(self.n_items)) * CHECKOUT * self._p_buy[users][:, None]
        purchase = click * buy
        return {"click_prob": click, "purchase_prob": purchase, "revenue": purchase * self._price[None, :]}

    # ------------------------------------------------------------------ appeal
    def _log_appeal(self, users: np.ndarray, items: np.ndarray | None = None) -> np.ndarray:
        """log( q_u(L_i) * pi_i * exp(utility_ui) ) for (users x items), or all items."""
        sh = self.world.shoppers
        cols = np.arange(self.n_items) if items is None else np.asarray(items, dtype=np.int64)
        affinity = sh.taste[users] @ self._vec_t[:, cols]
        utility = self.sim.utility(affinity, cols, sh.price_pref[users][:, None], self.day)
        q = self.sim.slot_leaf_probs(users)[:, self._leaf[cols]]
        with np.errstate(divide="ignore"):
            return utility + self._log_pi[cols][None, :] + np.log(q)

    def _norms(self) -> np.ndarray:
        """Per shopper, log of the mean appeal over the catalog (computed once, in chunks)."""
        if self._log_norm is None:
            out = np.empty(self.n_users)
            size = max(1, CHUNK_CELLS // max(self.n_items, 1))
            for lo in range(0, self.n_users, size):
                users = np.arange(lo, min(lo + size, self.n_users))
                la = self._log_appeal(users)
                top = np.max(np.where(np.isfinite(la), la, -np.inf), axis=1, keepdims=True)
                out[lo : lo + users.size] = (top[:, 0] + np.log(np.mean(np.exp(la - top), axis=1)))
            self._log_norm = out
        return self._log_norm

    def appeal(self, users: np.ndarray, items: np.ndarray | None = None) -> np.ndarray:
        """p_ui: appeal relative to the shopper's mean over the catalog (mean 1)."""
        la = self._log_appeal(users, items) - self._norms()[users][:, None]
        return np.exp(la)

    def _click_given_seen(self, p: np.ndarray) -> np.ndarray:
        pk = np.power(np.maximum(p, 0.0), self.sensitivity)
        return pk / (pk + self.no_click)

    # ------------------------------------------------------------------ responses
    def respond(self, user_ids: Any, lists: Sequence[Any], catalog_mean: bool = False
                ) -> tuple[list[dict[str, np.ndarray]], dict[str, np.ndarray] | None]:
        """Per slot of each list: click_prob (with position bias), purchase_prob, revenue, shown.

        ``catalog_mean``: per shopper, the mean over the catalog of a slot's
        response at a random position of the list (a uniformly random recommender).
        """
        users = self.user_index(user_ids)
        outs = []
        for items in lists:
            idx = self.item_index(items, users.size)
            shown = idx >= 0
            click = np.zeros(idx.shape)
            purchase = np.zeros(idx.shape)
            theta = position_bias(idx.shape[1])
            rows, slots = np.nonzero(shown)
            if rows.size:
                cols = idx[rows, slots]
                # per (row, slot) appeal without building rows x catalog
                sh = self.world.shoppers
                affinity = np.einsum("ij,ji->i", sh.taste[users[rows]], self._vec_t[:, cols])
                utility = self.sim.utility(affinity, cols, sh.price_pref[users[rows]], self.day)
                q = self.sim.slot_leaf_probs(users[rows])[np.arange(rows.size), self._leaf[cols]]
                with np.errstate(divide="ignore"):
                    la = utility + self._log_pi[cols] + np.log(q) - self._norms()[users[rows]]
                c = self._click_given_seen(np.exp(la)) * theta[slots]
                buy = self.sim.cart_prob(affinity, cols) * CHECKOUT * self._p_buy[users[rows]]
                click[rows, slots] = c
                purchase[rows, slots] = c * buy
            price = np.where(shown, self._price[np.maximum(idx, 0)], 0.0)
            outs.append({"click_prob": click, "purchase_prob": purchase, "revenue": purchase * price,
                         "shown": shown})
        means = None
        if catalog_mean:
            means = {k: np.zeros(users.size) for k in OUTPUTS}
            size = max(1, CHUNK_CELLS // max(self.n_items, 1))
            width = max((np.asarray(o["shown"]).shape[1] for o in outs), default=10) or 10
            mean_theta = float(position_bias(width).mean())
            sh = self.world.shoppers
            for lo in range(0, users.size, size):
                part = users[lo : lo + size]
                p = self.appeal(part)
                c = self._click_given_seen(p) * mean_theta
                affinity = sh.taste[part] @ self._vec_t
                buy = self.sim.cart_prob(affinity, np.arange(self.n_items)) * CHECKOUT * self._p_buy[part][:, None]
                means["click_prob"][lo : lo + part.size] = c.mean(axis=1)
                means["purchase_prob"][lo : lo + part.size] = (c * buy).mean(axis=1)
                means["revenue"][lo : lo + part.size] = ((c * buy) @ self._price) / self.n_items
        return outs, means

    def sample(self, user_id: str, item_ids_: Sequence[str], rng: np.random.Generator) -> list[tuple[str, str, float]]:
        """What one shopper does with one list: ``(item_id, event, price)`` for clicks, carts and purchases."""
        outs, _ = self.respond([user_id], [[list(item_ids_)]])
        out = outs[0]
        events: list[tuple[str, str, float]] = []
        u = self.user_index([user_id])[0]
        for slot, item in enumerate(item_ids_):
            if not out["shown"][0, slot]:
                continue
            if rng.random() >= out["click_prob"][0, slot]:
                continue
            events.append((item, "click", 0.0))
            i = self.item_index([[item]])[0, 0]
            sh = self.world.shoppers
            affinity = float(sh.taste[u] @ self._vec_t[:, i])
            if rng.random() < self._p_buy[u] and rng.random() < float(self.sim.cart_prob(np.array([affinity]),
                                                                                      np.array([i]))[0]):
                events.append((item, "add_to_cart", float(self._price[i])))
                if rng.random() < CHECKOUT:
                    events.append((item, "purchase", float(self._price[i])))
        return events


@lru_cache(maxsize=4)
def _cached(scale: str, seed: int, day: float | None) -> ShopperResponse:
    return ShopperResponse(build_world(scale, seed), day)
