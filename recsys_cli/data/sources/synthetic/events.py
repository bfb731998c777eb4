"""Simulate shopping sessions for a block of shoppers, fully vectorised.

A session has a start time (day from the shop's daily intensity within the
shopper's active span, hour from the daily cycle), a device, an intent
category and a length. It looks at a few distinct products (its "slots"),
each drawn by sampling-importance-resampling: candidates from the category's
popularity, re-weighted by the shopper's taste, price fit, trends and launch
boosts; products not yet launched are never shown. Views revisit the slots;
buying sessions add some slots to the cart and check some of those out.
Some sessions return to a product from the shopper's previous session.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recsys_cli.data.sources.synthetic import calendar, vocab
from recsys_cli.data.sources.synthetic.world import PRICE_LEVEL, Catalog, Shoppers, items_by_leaf

VIEW, CART, PURCHASE = 0, 1, 2
EVENT_NAMES = ("view", "add_to_cart", "purchase")

TASTE = 5.0  # weight of taste in the choice (higher: more personal, less popular)
CANDIDATES = 24  # candidates per slot in the resampling
OTHER_CATEGORY = 0.15  # a slot from another of the shopper's categories
BROWSE = 0.15  # a slot from what the whole shop is browsing (home page, bestsellers)
RETURN = 0.35  # a session revisits a product of the previous session
STAY_ON_DEVICE = 0.85
BUY_SESSION = 0.15  # base chance that a session is a buying one
DEVICE_BUY = np.array([1.15, 0.8, 1.0])  # desktop, mobile, tablet
CART_BIAS, CART_TASTE = -2.4, 2.0  # logit of adding a slot to the cart in a buying session
CHECKOUT = 0.5  # a cart item is bought
SLOT_BATCH = 32_768


@dataclass
class Block:
    """Events of one block of shoppers, as parallel arrays (sorted by user, time)."""

    user: np.ndarray  # int32 shopper index
    item: np.ndarray  # int32 product index
    time: np.ndarray  # int64 seconds since calendar.START
    event: np.ndarray  # int8 VIEW / CART / PURCHASE
    session: np.ndarray  # int32 session number within the shopper
    device: np.ndarray  # int8


def session_views(rng: np.random.Generator, n: int) -> np.ndarray:
    """Views per session: heavy-tailed, median ~4, mean ~6-7, p95 ~20."""
    return (1 + np.floor(np.exp(rng.normal(np.log(3.0), 1.15, n)))).clip(1, 150).astype(np.int32)


def _segment_index(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For segments of the given sizes: owner of each element, segment starts, offset within."""
    owner = np.repeat(np.arange(len(counts)), counts)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    offset = np.arange(owner.size) - starts[owner]
    return owner, starts, offset


def _sample_rows(cdf: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Row-wise categorical sampling from cumulative probabilities."""
    return (cdf < u[:, None]).sum(axis=1).clip(0, cdf.shape[1] - 1)


class Simulator:
    """Holds the per-catalog lookups once; ``block()`` simulates a set of shoppers."""

    def __init__(self, catalog: Catalog, shoppers: Shoppers) -> None:
        self.catalog = catalog
        self.shoppers = shoppers
        self.perm, self.start, self.stop = items_by_leaf(catalog)
        weights = np.exp(0.8 * catalog.log_pop[self.perm].astype(np.float64))
        self.pop_weight = weights  # chance of being a slot candidate, relative within a leaf (perm order)
        self.cum = np.cumsum(weights)
        self.cum0 = np.concatenate([[0.0], self.cum])
        intensity = calendar.day_intensity()
        self.day_cum = np.concatenate([[0.0], np.cumsum(intensity)])
        median = np.array([lf.median_price for _, lf in vocab.LEAVES]) * PRICE_LEVEL
        self.rel_price = (np.log(catalog.price) - np.log(median[catalog.leaf])).astype(np.float32)
        self.consumable = np.array([lf.consumable for _, lf in vocab.LEAVES])[catalog.leaf]
        traffic = np.array([top.traffic * lf.traffic for top, lf in vocab.LEAVES])
        self.leaf_traffic_cdf = np.cumsum(traffic) / traffic.sum()
        self.conversion = np.array([top.conversion for top, _ in vocab.LEAVES])[catalog.leaf]

    # ------------------------------------------------------------------ sessions
    def block(self, users: np.ndarray, rng: np.random.Generator) -> Block:
        sh = self.shoppers
        n_sess = sh.n_sessions[users]
        s_user = np.repeat(users, n_sess)
        n_s = s_user.size

        lo = self.day_cum[sh.first_day[s_user]]
        hi = self.day_cum[sh.last_day[s_user]]
        day = np.searchsorted(self.day_cum, lo + rng.random(n_s) * (hi - lo), side="right") - 1
        day = np.clip(day, sh.first_day[s_user], sh.last_day[s_user] - 1)
        hour = np.searchsorted(calendar.HOUR_CDF, rng.random(n_s))
        start = day.astype(np.int64) * 86400 + hour * 3600 + rng.integers(0, 3600, n_s)
        order = np.lexsort((start, s_user))
        s_user, start = s_user[order], start[order]
        _, user_first, _ = _segment_index(n_sess)
        s_num = (np.arange(n_s) - np.repeat(user_first, n_sess)).astype(np.int32)

        primary = sh.device[s_user]
        device = np.where(rng.random(n_s) < STAY_ON_DEVICE, primary, rng.integers(0, 3, n_s)).astype(np.int8)
        intent = _sample_rows(sh.leaf_cdf[s_user], rng.random(n_s))
        views = session_views(rng, n_s)
        n_slots = np.maximum(1, np.rint(views**0.8)).astype(np.int32)
        buying = rng.random(n_s) < self.buy_prob(s_user, device)

        slot_item, slot_taste = self._slots(rng, s_user, start, intent, n_slots)
        slot_sess, slot_start, _ = _segment_index(n_slots)

        # some sessions come back to a product of the shopper's previous session
        back = (s_num > 0) & (rng.random(n_s) < RETURN)
        sess = np.flatnonzero(back)
        prev_pick = slot_start[sess - 1] + (rng.random(sess.size) * n_slots[sess - 1]).astype(np.int64)
        slot_item[slot_start[sess]] = slot_item[prev_pick]
        slot_taste[slot_start[sess]] = slot_taste[prev_pick]

        # views: each slot once in order, then revisits of earlier slots
        v_sess, v_start, v_off = _segment_index(views)
        local = np.where(
            v_off < n_slots[v_sess], v_off, (rng.random(v_sess.size) * n_slots[v_sess]).astype(np.int64)
        )
        v_item = slot_item[slot_start[v_sess] + local]
        gaps = np.exp(rng.normal(np.log(40.0), 1.0, v_sess.size)).astype(np.int64) + 1
        gaps[v_start] = 0
        csum = np.cumsum(gaps)
        v_time = start[v_sess] + csum - csum[v_start][v_sess]
        last_view = v_time[v_start + views - 1]

        # carts in buying sessions, by taste; then checkout of some carts at the session end
        p_cart = self.cart_prob(slot_taste, np.maximum(slot_item, 0))
        cart = buying[slot_sess] & (rng.random(slot_item.size) < p_cart) & (slot_item >= 0)
        c_slot = np.flatnonzero(cart)
        first_view = v_time[v_start[slot_sess[c_slot]] + (c_slot - slot_start[slot_sess[c_slot]])]
        c_time = first_view + rng.integers(10, 120, c_slot.size)
        bought = rng.random(c_slot.size) < CHECKOUT
        p_slot = c_slot[bought]
        # checkout after the last view and after the item went into the cart
        p_time = np.maximum(last_view[slot_sess[p_slot]], c_time[bought]) + rng.integers(60, 600, p_slot.size)

        sess_of = np.concatenate([v_sess, slot_sess[c_slot], slot_sess[p_slot]])
        out = Block(
            user=s_user[sess_of].astype(np.int32),
            item=np.concatenate([v_item, slot_item[c_slot], slot_item[p_slot]]).astype(np.int32),
            time=np.concatenate([v_time, c_time, p_time]),
            event=np.concatenate(
                [np.full(v_sess.size, VIEW), np.full(c_slot.size, CART), np.full(p_slot.size, PURCHASE)]
            ).astype(np.int8),
            session=s_num[sess_of],
            device=device[sess_of],
        )
        keep = (out.item >= 0) & (out.time < calendar.N_DAYS * 86400)
        order = np.lexsort((out.time, out.user))
        order = order[keep[order]]
        return Block(**{k: getattr(out, k)[order] for k in Block.__dataclass_fields__})

    # ------------------------------------------------------------------- slots
    def _slots(
        self,
        rng: np.random.Generator,
        s_user: np.ndarray,
        start: np.ndarray,
        intent: np.ndarray,
        n_slots: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The distinct products each session looks at (-1: nothing launched to show)."""
        slot_sess = np.repeat(np.arange(s_user.size), n_slots)
        user = s_user[slot_sess]
        leaf = self.slot_leaves(rng, user, intent[slot_sess])
        day = start[slot_sess] / 86400.0

        items = np.empty(slot_sess.size, dtype=np.int64)
        taste = np.empty(slot_sess.size, dtype=np.float32)
        for b in range(0, slot_sess.size, SLOT_BATCH):
            sl = slice(b, b + SLOT_BATCH)
            items[sl], taste[sl] = self._choose(rng, user[sl], leaf[sl], day[sl])
        return items, taste

    def _choose(
        self, rng: np.random.Generator, user: np.ndarray, leaf: np.ndarray, day: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Each slot's product: the best of its candidates by utility plus Gumbel noise (a logit choice)."""
        sh, cat = self.shoppers, self.catalog
        cand = self.candidates(rng, leaf, CANDIDATES)
        affinity = np.einsum("bd,bcd->bc", sh.taste[user], cat.vec[cand])
        utility = self.utility(affinity, cand, sh.price_pref[user][:, None], day[:, None])
        gumbel = -np.log(-np.log(rng.random(utility.shape)))
        pick = np.argmax(utility + gumbel, axis=1)
        rows = np.arange(leaf.size)
        chosen = cand[rows, pick]
        ok = np.isfinite(utility[rows, pick])
        return np.where(ok, chosen, -1), affinity[rows, pick].astype(np.float32)

    # ------------------------------------------------ the choice model, shared
    # ``truth.py`` derives the expected response to a recommendation from these
    # same functions, so the generator and its ground truth cannot drift apart.

    def slot_leaves(self, rng: np.random.Generator, user: np.ndarray, intent: np.ndarray) -> np.ndarray:
        """The category of each slot: the session's intent, another favourite, or what the shop browses."""
        leaf = intent.copy()
        other = np.flatnonzero(rng.random(leaf.size) < OTHER_CATEGORY)
        leaf[other] = _sample_rows(self.shoppers.leaf_cdf[user[other]], rng.random(other.size))
        browse = np.flatnonzero(rng.random(leaf.size) < BROWSE)
        leaf[browse] = np.searchsorted(self.leaf_traffic_cdf, rng.random(browse.size)).clip(0, len(vocab.LEAVES) - 1)
        return leaf

    def slot_leaf_probs(self, users: np.ndarray) -> np.ndarray:
        """(n_users, n_leaves): the chance that a slot is in each category (the law of ``slot_leaves``,
        with the intent drawn from ``leaf_cdf`` as ``block`` does)."""
        own = np.diff(self.shoppers.leaf_cdf[users].astype(np.float64), axis=1, prepend=0.0)
        shop = np.diff(self.leaf_traffic_cdf, prepend=0.0)
        return (1.0 - BROWSE) * own + BROWSE * shop[None, :]

    def candidates(self, rng: np.random.Generator, leaf: np.ndarray, n: int) -> np.ndarray:
        """(len(leaf), n) products drawn with replacement from each leaf, in proportion to ``pop_weight``."""
        lo, hi = self.cum0[self.start[leaf]], self.cum0[self.stop[leaf]]
        x = lo[:, None] + rng.random((leaf.size, n)) * (hi - lo)[:, None]
        pos = np.searchsorted(self.cum, x, side="right")
        pos = np.clip(pos, self.start[leaf][:, None], self.stop[leaf][:, None] - 1)
        return self.perm[pos]

    def utility(
        self, affinity: np.ndarray, items: np.ndarray, price_pref: np.ndarray, day: np.ndarray | float
    ) -> np.ndarray:
        """A shopper's utility for products on a day (broadcasting; -inf before launch).

        ``affinity`` is taste . product vector, ``price_pref`` the shoppers' price preference.
        """
        cat = self.catalog
        age = day - cat.launch_day[items]
        launched = age >= 0
        boost = 0.8 * np.exp(-np.maximum(age, 0.0) / 21.0)
        peak = cat.trend_peak[items]
        trend = np.where(
            np.isnan(peak), 0.0, cat.trend_amp[items] * np.exp(-0.5 * ((day - peak) / cat.trend_width[items]) ** 2)
        )
        price_fit = -0.6 * (self.rel_price[items] - price_pref) ** 2
        utility = TASTE * affinity + 0.2 * cat.log_pop[items] + trend + boost + price_fit
        return np.where(launched, utility, -np.inf)

    def cart_prob(self, affinity: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Chance that a slot's product goes into the cart, in a buying session."""
        p_cart = 1.0 / (1.0 + np.exp(-(CART_BIAS + CART_TASTE * affinity)))
        return np.minimum(p_cart * self.conversion[items] * (1.0 + 0.5 * self.consumable[items]), 0.95)

    def buy_prob(self, users: np.ndarray, device: np.ndarray) -> np.ndarray:
        """Chance that a session of these shoppers on these devices is a buying one."""
        p_buy = BUY_SESSION * self.shoppers.buy_rate[users] * DEVICE_BUY[device]
        return np.clip(p_buy, 0.0, 0.9)
