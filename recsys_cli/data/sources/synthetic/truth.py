"""Ground truth of the synthetic shop: how a shopper responds to a recommended product.

The generator knows every shopper's hidden preferences. This module turns the
generator's own choice model (the functions of ``events.Simulator``, shared,
not copied) into the expected response to a product *shown in a
recommendation slot*: the chance of a click, of a purchase, and the expected
revenue. Evaluation uses it for business proxies (expected CTR, conversion,
revenue per 1,000 recommendations) next to the accuracy metrics.

How the generator decides (``events.py``):

* a session has slots; a slot has a category ``L``: the session's intent or
  another favourite of the shopper (both drawn from the shopper's category
  law) or, with chance ``BROWSE``, what the whole shop browses
  (``Simulator.slot_leaves``, whose law is ``Simulator.slot_leaf_probs``);
* the slot draws ``CANDIDATES`` (24) products of ``L`` with replacement, in
  proportion to their popularity weight (``Simulator.candidates``), and the
  shopper views the candidate with the highest utility plus Gumbel noise, a
  logit choice (``Simulator.utility``: taste, popularity, trend, launch boost,
  price fit; products not launched yet are never chosen);
* a session is a buying one with ``Simulator.buy_prob`` (shopper, device:
  the main one with ``STAY_ON_DEVICE``, else any of the three); in a buying
  session each viewed slot goes to the cart with ``Simulator.cart_prob``
  (taste, the category's conversion, consumables) and a cart item is checked
  out with ``CHECKOUT``; every purchase is logged at the catalog price.

The mapping to a recommendation slot (a product shown to a shopper):

* **click**: the recommended product takes the place of one of the 24
  candidates of a slot of the shopper's, and is clicked if it wins that slot's
  logit choice against the 23 other, popularity-drawn candidates. A slot only
  ever shows products of its own category, so the product competes in slots
  of its own category ``L_i`` and is not clicked in the others::

      click(u, i) = q_u(L_i) * E[ a_ui / (a_ui + S) ],   a_uj = exp(utility_uj),
      S = a of 23 products drawn from L_i by popularity (the law of a candidate)

  ``q_u`` is the generator's law of a slot's category for the shopper. The
  expectation over the competitors is computed, not sampled:
  ``E[a / (a + S)] = a * int_0^inf exp(-a t) phi(t)^23 dt`` with ``phi`` the
  Laplace transform of one competitor's ``a``, on a grid (the competitors'
  law is binned on a 1/8 step in utility, keeping its mean; the click table
  is read back linearly in ``a``; utilities are clipped to [-16, 14], they
  span about -10..8); against the direct integral the error is below 0.1 %.
* **purchase**: click, then the generator's buying mechanics for a viewed
  slot: ``P(buying session) * cart_prob * CHECKOUT``, the session's device
  drawn as the generator draws it. Independent of the click, as in the
  generator (whether a session is a buying one does not change what it views).
* **revenue**: purchase probability times the product's catalog price.

Assumptions (state them next to any number computed here):

* every slot of a list is a separate exposure: no position effect, no
  fatigue, and the products of one list do not compete with each other (a
  list's expected clicks are the sum over its slots);
* the response is the one on a single ``day`` (default: the end of the
  generated log, when recommendations would be served): that day's trends,
  launch boosts and launched products;
* the "back to a product of the previous session" habit, revisits and the
  end of the log window are left out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from recsys_cli.data.sources.synthetic import World, build_world, calendar, item_ids, user_ids, vocab
from recsys_cli.data.sources.synthetic.events import CANDIDATES, CHECKOUT, DEVICE_BUY, STAY_ON_DEVICE, Simulator

__all__ = ["OUTPUTS", "ResponseModel", "id_matrix"]

OUTPUTS = ("click_prob", "purchase_prob", "revenue")
COMPETITORS = CANDIDATES - 1  # the recommended product takes one candidate's place
STEP = 0.125  # utility grid of the competitors' law and of the click table
LOG_T_STEP = 0.75  # quadrature step in log t (trapezoid error ~1e-5)
U_MIN, U_MAX = -16.0, 14.0  # utilities are clipped into this range (they span about -12..10)
CHUNK_CELLS = 2_000_000  # shoppers x products worked on at once


def _is_pad(x: Any) -> bool:
    return x is None or (isinstance(x, float) and x != x) or (isinstance(x, str) and x == "")


def id_matrix(item_ids: Any, n_rows: int | None = None) -> np.ndarray:
    """A 2-D object array of ids, one row per user (ragged rows padded with None)."""
    if isinstance(item_ids, np.ndarray):
        if item_ids.ndim != 2:
            raise ValueError(f"item_ids must be 2-D (one list per user), got shape {item_ids.shape}")
        arr = item_ids.astype(object)
    else:
        rows = []
        for r in item_ids:
            if r is None or isinstance(r, (str, bytes)) or not hasattr(r, "__iter__"):
                raise ValueError("item_ids must be 2-D (one list of item ids per user)")
            rows.append(list(r))
        width = max((len(r) for r in rows), default=0)
        arr = np.full((len(rows), width), None, dtype=object)
        for i, r in enumerate(rows):
            arr[i, : len(r)] = r
    if n_rows is not None and arr.shape[0] != n_rows:
        raise ValueError(f"{n_rows} users but {arr.shape[0]} rows of item ids")
    return arr


class ResponseModel:
    """Expected click, purchase and revenue of products shown to shoppers of one synthetic world.

    Ids are the external ones of the generated tables (``u000042``,
    ``p000007``). Work is done in chunks of shoppers over the whole catalog
    (the competition in a slot depends on every product of its category), so
    memory stays bounded at ``full`` scale; no shoppers x products matrix is
    kept.
    """

    def __init__(self, world: World, day: float | None = None) -> None:
        self.world = world
        self.day = float(calendar.N_DAYS if day is None else day)
        self.sim = sim = Simulator(world.catalog, world.shoppers)
        cat, sh = world.catalog, world.shoppers
        self.n_users, self.n_items = sh.n, cat.n
        self.n_leaves = len(vocab.LEAVES)
        # columns in the simulator's order: products sorted by category
        self._cols = sim.perm.astype(np.int64)
        self._col_of = np.empty(cat.n, dtype=np.int64)
        self._col_of[self._cols] = np.arange(cat.n)
        self._leaf = cat.leaf[self._cols].astype(np.int64)
        self._vec_t = np.ascontiguousarray(cat.vec[self._cols].T)
        self._price = cat.price[self._cols].astype(np.float64)
        # a product's chance of being one candidate of a slot of its category
        leaf_weight = np.bincount(self._leaf, weights=sim.pop_weight, minlength=self.n_leaves)
        self._pi = sim.pop_weight / leaf_weight[self._leaf]
        self._launched = cat.launch_day[self._cols] <= self.day
        self._unlaunched_mass = np.bincount(
            self._leaf, weights=self._pi * ~self._launched, minlength=self.n_leaves
        )
        # chance that a session is a buying one, over the device the generator would draw
        users = np.arange(sh.n)
        p_buy = (1.0 - STAY_ON_DEVICE) / len(DEVICE_BUY) * sum(
            sim.buy_prob(users, np.full(sh.n, d)) for d in range(len(DEVICE_BUY))
        )
        self._p_buy = p_buy + STAY_ON_DEVICE * sim.buy_prob(users, sh.device)
        # quadrature: utility grid (product side) x log t grid
        self._grid = np.arange(U_MIN, U_MAX + STEP / 2, STEP)
        # log t where a t exp(-a t) matters for every utility in [U_MIN, U_MAX]: a t in [exp(-16), exp(4)]
        self._log_t = np.arange(-U_MAX - 16.0, -U_MIN + 4.0 + LOG_T_STEP / 2, LOG_T_STEP)
        at = np.exp(self._grid[:, None] + self._log_t[None, :])  # a * t
        self._laplace = np.exp(-at)  # (grid, t): exp(-a t), one competitor at a grid point
        self._kernel = (LOG_T_STEP * at * np.exp(-at)).T  # (t, grid): a t exp(-a t) dlog t
        self._user_of: dict[str, int] | None = None
        self._item_of: dict[str, int] | None = None

    @classmethod
    def from_config(cls, scale: str, seed: int, day: float | None = None) -> ResponseModel:
        """The response model of ``generate(scale, seed)`` (the world is rebuilt, deterministically)."""
        return _cached(scale, int(seed), None if day is None else float(day))

    # ------------------------------------------------------------------ ids
    @property
    def user_ids(self) -> list[str]:
        return user_ids(self.n_users)

    @property
    def item_ids(self) -> list[str]:
        return item_ids(self.n_items)

    def user_index(self, ids: Any) -> np.ndarray:
        """Shopper indices of external user ids; ValueError naming the ids this world did not generate."""
        if self._user_of is None:
            self._user_of = {u: i for i, u in enumerate(self.user_ids)}
        ids = list(ids)
        idx = np.fromiter((self._user_of.get(u, -1) if isinstance(u, str) else -1 for u in ids), np.int64, len(ids))
        bad = [ids[i] for i in np.flatnonzero(idx < 0)[:5]]
        if bad:
            raise ValueError(
                f"{int((idx < 0).sum())} user id(s) not in the synthetic world "
                f"({self.n_users:,} users u000000..u{self.n_users - 1:06d}), e.g. {bad}"
            )
        return idx

    def item_index(self, ids: Any, n_rows: int | None = None) -> np.ndarray:
        """Product indices of a 2-D array of external item ids; -1 where padded (None, NaN, "")."""
        if self._item_of is None:
            self._item_of = {p: i for i, p in enumerate(self.item_ids)}
        arr = id_matrix(ids, n_rows)
        lookup = self._item_of
        flat = arr.ravel()
        idx = np.fromiter(
            (-1 if _is_pad(x) else (lookup.get(x, -2) if isinstance(x, str) else -2) for x in flat),
            np.int64,
            flat.size,
        )
        bad = [flat[i] for i in np.flatnonzero(idx == -2)[:5]]
        if bad:
            raise ValueError(
                f"{int((idx == -2).sum())} item id(s) not in the synthetic world "
                f"({self.n_items:,} products p000000..p{self.n_items - 1:06d}), e.g. {bad}"
            )
        return idx.reshape(arr.shape)

    # ------------------------------------------------------------- responses
    def expected(self, user_ids: Any, item_ids: Any) -> dict[str, np.ndarray]:
        """Per slot: ``click_prob``, ``purchase_prob``, ``revenue`` (0 where padded) and ``shown``.

        ``user_ids``: one external id per row; ``item_ids``: the products shown
        to each (2-D, or a list of lists; None/NaN/"" pad).
        """
        return self.respond(user_ids, [item_ids])[0][0]

    def catalog_mean(self, user_ids: Any) -> dict[str, np.ndarray]:
        """Per user, the mean response over the whole catalog: what a uniformly random
        recommender earns per slot in expectation."""
        return self.respond(user_ids, [], catalog_mean=True)[1]

    def expected_catalog(self, user_ids: Any) -> dict[str, np.ndarray]:
        """Dense (users, n_items) responses in catalog order (for a few users: oracle rankings, checks)."""
        users = self.user_index(user_ids)
        out = {k: np.zeros((users.size, self.n_items)) for k in OUTPUTS}
        for lo, hi in self._chunks(users.size):
            values = self._respond_all(self._chunk(users[lo:hi]), dense=True)
            for k, v in zip(OUTPUTS, values):
                out[k][lo:hi, self._cols] = v
        return out

    def respond(
        self, user_ids: Any, lists: Sequence[Any], catalog_mean: bool = False
    ) -> tuple[list[dict[str, np.ndarray]], dict[str, np.ndarray] | None]:
        """Responses to several lists for the same users in one pass over the catalog.

        Returns one ``expected``-style dict per list, and (``catalog_mean``) the
        per-user mean over the catalog.
        """
        users = self.user_index(user_ids)
        cols = []
        for items in lists:
            idx = self.item_index(items, users.size)
            cols.append(np.where(idx >= 0, self._col_of[np.maximum(idx, 0)], -1))
        outs = [{k: np.zeros(c.shape) for k in OUTPUTS} | {"shown": c >= 0} for c in cols]
        means = {k: np.zeros(users.size) for k in OUTPUTS} if catalog_mean else None
        for lo, hi in self._chunks(users.size) if cols or catalog_mean else []:
            part = self._chunk(users[lo:hi])
            for c, out in zip(cols, outs):
                block = c[lo:hi]
                rows, slots = np.nonzero(block >= 0)
                values = self._respond(part, rows, block[rows, slots])
                for k, v in zip(OUTPUTS, values):
                    out[k][lo + rows, slots] = v
            if means is not None:
                for k, v in zip(OUTPUTS, self._respond_all(part, dense=False)):
                    means[k][lo:hi] = v / self.n_items
        return outs, means

    # -------------------------------------------------------------- internals
    def _chunks(self, n: int) -> list[tuple[int, int]]:
        size = max(1, CHUNK_CELLS // max(self.n_items, 1))
        return [(lo, min(lo + size, n)) for lo in range(0, n, size)]

    def _chunk(self, users: np.ndarray) -> dict[str, Any]:
        """Every product's utility for a chunk of shoppers, and the click table of each (shopper, category)."""
        sh, n_leaves = self.world.shoppers, self.n_leaves
        n_rows = users.size
        affinity = sh.taste[users] @ self._vec_t  # (rows, items) float32
        utility = self.sim.utility(affinity, self._cols, sh.price_pref[users][:, None], self.day)
        # each product's a = exp(utility) is split between the grid points around it, keeping its mean
        pos = utility  # (reused in place)
        pos -= U_MIN
        pos *= 1.0 / STEP
        np.clip(pos, 0.0, self._grid.size - 1.000001, out=pos)  # -inf (not launched) -> 0
        cell = pos.astype(np.int64)  # floor
        w_hi = pos
        w_hi -= cell
        w_hi *= STEP
        w_hi = _mean_keeping_share(w_hi)
        # only the grid points these shoppers' utilities reach
        lo_g, hi_g = int(cell.min()), int(cell.max()) + 2
        n_grid = hi_g - lo_g
        key = np.add.outer(np.arange(n_rows) * (n_leaves * n_grid), self._leaf * n_grid - lo_g)
        key += cell
        mass_hi = self._pi * w_hi
        mass_lo = self._pi - mass_hi
        if not self._launched.all():
            mass_hi[:, ~self._launched] = 0.0
            mass_lo[:, ~self._launched] = 0.0
        size = n_rows * n_leaves * n_grid
        hist = np.bincount(key.ravel(), weights=mass_lo.ravel(), minlength=size)
        hist[1:] += np.bincount(key.ravel(), weights=mass_hi.ravel(), minlength=size)[:-1]
        # phi(t): the Laplace transform of one competitor's a, per (shopper, category)
        phi = hist.reshape(n_rows * n_leaves, n_grid) @ self._laplace[lo_g:hi_g]
        phi += np.tile(self._unlaunched_mass, n_rows)[:, None]
        np.clip(phi, 0.0, 1.0, out=phi)
        # E[a / (a + S)] at the grid points, times the chance that a slot is in the category
        table = (phi**COMPETITORS) @ self._kernel[:, lo_g:hi_g]
        np.clip(table, 0.0, 1.0, out=table)
        table *= self.sim.slot_leaf_probs(users).reshape(-1, 1)
        table = table.ravel()
        return {"users": users, "affinity": affinity, "key": key, "w_hi": w_hi, "table": table}

    def _click(self, part: dict[str, Any], key: np.ndarray, w_hi: np.ndarray, cols: np.ndarray) -> np.ndarray:
        table = part["table"]
        click = np.take(table[1:], key)
        lo = np.take(table, key)
        click -= lo
        click *= w_hi
        click += lo
        if not self._launched.all():
            click *= self._launched[cols]
        return click

    def _respond(
        self, part: dict[str, Any], rows: np.ndarray, cols: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """click, purchase, revenue at (rows, cols) of a chunk (1-D index arrays)."""
        click = self._click(part, part["key"][rows, cols], part["w_hi"][rows, cols], cols)
        purchase = self.sim.cart_prob(part["affinity"][rows, cols], self._cols[cols]) * click
        purchase *= CHECKOUT * self._p_buy[part["users"][rows]]
        return click, purchase, purchase * self._price[cols]

    def _respond_all(self, part: dict[str, Any], dense: bool) -> tuple[np.ndarray, ...]:
        """Every product of the chunk: the dense (rows, items) responses, or their sums over the catalog."""
        cols = np.arange(self.n_items)
        click = self._click(part, part["key"], part["w_hi"], cols)
        bought = self.sim.cart_prob(part["affinity"], self._cols)  # (per viewed slot, in a buying session)
        bought *= click
        scale = (CHECKOUT * self._p_buy[part["users"]])[:, None]
        if dense:
            purchase = bought * scale
            return click, purchase, purchase * self._price
        return click.sum(axis=1), bought.sum(axis=1) * scale[:, 0], (bought @ self._price) * scale[:, 0]


def _mean_keeping_share(x: np.ndarray) -> np.ndarray:
    """The share of a product's mass on the upper grid point, x = utility - lower point in [0, STEP):
    (exp(x) - 1) / (exp(STEP) - 1), which keeps the mean of exp(utility) (3rd-order series, ~1e-5)."""
    c = 1.0 / math.expm1(STEP)
    out = x * (c / 6.0)
    out += c / 2.0
    out *= x
    out += c
    out *= x
    return out


@lru_cache(maxsize=4)
def _cached(scale: str, seed: int, day: float | None) -> ResponseModel:
    return ResponseModel(build_world(scale, seed), day)
