"""The hidden world behind the synthetic shop: products, shoppers and their tastes.

Nothing here is written to the event log directly. Products get a category
leaf, a brand, a price, a launch day, a base popularity, an optional trend and
a latent vector; shoppers get demographics, a signup day, an active span, an
activity level, favourite categories and brands, a price preference and a
latent taste vector. Events (``events.py``) are sampled from these.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recsys_cli.data.sources.synthetic import calendar, vocab

DIM = 16
PRICE_LEVEL = 2.0  # vocab prices are typical; the shop's currency sits higher


@dataclass(frozen=True)
class Scale:
    n_users: int
    n_items: int
    n_events: int  # the target; the realised count is within a few percent


SCALES = {
    "tiny": Scale(600, 300, 25_000),
    "small": Scale(6_000, 2_500, 300_000),
    "medium": Scale(30_000, 12_000, 1_500_000),
    "full": Scale(100_000, 50_000, 5_000_000),
    "xl": Scale(162_000, 62_000, 25_000_000),  # the size of MovieLens 25M
}


@dataclass
class Catalog:
    leaf: np.ndarray  # int16, index into vocab.LEAVES
    top: np.ndarray  # int16, index into vocab.TREE
    brand: np.ndarray  # int32, index into brand_names
    brand_names: list[str]
    brand_top: np.ndarray  # int16, top category of each brand
    price: np.ndarray  # float32
    launch_day: np.ndarray  # int32, days since calendar.START (negative: launched before)
    log_pop: np.ndarray  # float32, base popularity (log scale)
    trend_peak: np.ndarray  # float32, day of a trend peak (nan: no trend)
    trend_width: np.ndarray  # float32, days
    trend_amp: np.ndarray  # float32, log-scale lift at the peak
    vec: np.ndarray  # float32 (n_items, DIM), unit vectors

    @property
    def n(self) -> int:
        return len(self.leaf)


@dataclass
class Shoppers:
    age_band: np.ndarray  # int8 index into vocab.AGE_BANDS
    gender: np.ndarray
    location: np.ndarray
    device: np.ndarray  # primary device
    signup_day: np.ndarray  # int32 (negative: before calendar.START)
    first_day: np.ndarray  # int32, first active day within the window
    last_day: np.ndarray  # int32, exclusive
    n_sessions: np.ndarray  # int32
    leaf_cdf: np.ndarray  # float32 (n_users, n_leaves): which categories they browse
    taste: np.ndarray  # float32 (n_users, DIM), unit vectors
    price_pref: np.ndarray  # float32, preferred log-price offset from a leaf's typical price
    buy_rate: np.ndarray  # float32, multiplies the chance a session is a buying one

    @property
    def n(self) -> int:
        return len(self.age_band)


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def _brand_name(rng: np.random.Generator, taken: set[str]) -> str:
    while True:
        parts = rng.choice(vocab.SYLLABLES, size=rng.integers(2, 4))
        name = "".join(parts).capitalize()
        if name not in taken:
            taken.add(name)
            return name


def leaf_vectors(rng: np.random.Generator) -> np.ndarray:
    tops = rng.standard_normal((len(vocab.TREE), DIM))
    leaf_top = np.array([vocab.TREE.index(top) for top, _ in vocab.LEAVES])
    return _unit(tops[leaf_top] + 0.8 * rng.standard_normal((len(vocab.LEAVES), DIM)))


def build_catalog(n_items: int, rng: np.random.Generator, leaf_vec: np.ndarray) -> Catalog:
    n_leaves = len(vocab.LEAVES)
    leaf_top = np.array([vocab.TREE.index(top) for top, _ in vocab.LEAVES], dtype=np.int16)
    # assortment size per leaf: bigger where more people browse, with some noise
    weight = np.array([top.traffic * leaf.traffic**0.7 for top, leaf in vocab.LEAVES])
    weight *= rng.lognormal(0.0, 0.25, n_leaves)
    leaf = rng.choice(n_leaves, size=n_items, p=weight / weight.sum()).astype(np.int16)
    leaf[:n_leaves] = np.arange(min(n_leaves, n_items))  # every leaf has a product
    top = leaf_top[leaf]

    # brands live in one top category; a few big brands, many small ones
    brand_names: list[str] = []
    brand_top: list[int] = []
    brand_of_top: list[np.ndarray] = []
    taken: set[str] = set()
    for t in range(len(vocab.TREE)):
        n_top_items = int((top == t).sum())
        n_brands = int(np.clip(n_top_items // 20, 3, 80))
        ids = np.arange(len(brand_names), len(brand_names) + n_brands)
        brand_of_top.append(ids)
        brand_names += [_brand_name(rng, taken) for _ in range(n_brands)]
        brand_top += [t] * n_brands
    n_brands_total = len(brand_names)
    brand_pop = rng.lognormal(0.0, 0.7, n_brands_total)
    brand_premium = rng.normal(0.0, 0.3, n_brands_total)
    brand_vec = rng.standard_normal((n_brands_total, DIM))
    brand = np.empty(n_items, dtype=np.int32)
    for t, ids in enumerate(brand_of_top):
        mask = top == t
        p = brand_pop[ids] / brand_pop[ids].sum()
        brand[mask] = rng.choice(ids, size=int(mask.sum()), p=p)

    median = np.array([lf.median_price for _, lf in vocab.LEAVES]) * PRICE_LEVEL
    log_price = np.log(median[leaf]) + brand_premium[brand] + rng.normal(0.0, 0.4, n_items)
    price = np.round(np.exp(log_price), 2).clip(0.99, 2999.0).astype(np.float32) - 0.01

    before = rng.random(n_items) < 0.65
    launch = np.where(
        before,
        -rng.integers(1, 720, n_items),
        rng.integers(0, calendar.N_DAYS - 7, n_items),
    ).astype(np.int32)

    log_pop = (rng.normal(0.0, 2.0, n_items) + np.log(brand_pop[brand]) * 0.5).astype(np.float32)
    trending = rng.random(n_items) < 0.15
    peak = np.maximum(launch, 0) + rng.random(n_items) * (calendar.N_DAYS - np.maximum(launch, 0))
    trend_peak = np.where(trending, peak, np.nan).astype(np.float32)
    trend_width = rng.uniform(7.0, 40.0, n_items).astype(np.float32)
    trend_amp = rng.uniform(1.0, 2.5, n_items).astype(np.float32)

    noise = _unit(rng.standard_normal((n_items, DIM)))
    vec = _unit(0.75 * leaf_vec[leaf] + 0.55 * _unit(brand_vec)[brand] + 0.6 * noise)
    return Catalog(
        leaf=leaf, top=top, brand=brand, brand_names=brand_names,
        brand_top=np.array(brand_top, dtype=np.int16), price=price, launch_day=launch,
        log_pop=log_pop, trend_peak=trend_peak, trend_width=trend_width, trend_amp=trend_amp, vec=vec,
    )


def _demographic_leaf_prior(age: int, gender: int) -> np.ndarray:
    band = vocab.AGE_BANDS[age]
    sex = vocab.GENDERS[gender]
    out = []
    for top, leaf in vocab.LEAVES:
        lean = vocab.AGE_LEANINGS[band].get(top.name, 1.0) * vocab.GENDER_LEANINGS[sex].get(top.name, 1.0)
        out.append(top.traffic * leaf.traffic * lean)
    prior = np.array(out)
    return prior / prior.sum()


def build_shoppers(
    scale: Scale, rng: np.random.Generator, catalog: Catalog, leaf_vec: np.ndarray, mean_session_events: float
) -> Shoppers:
    n = scale.n_users
    n_leaves = len(vocab.LEAVES)
    age = rng.choice(len(vocab.AGE_BANDS), size=n, p=vocab.AGE_WEIGHTS).astype(np.int8)
    gender = rng.choice(len(vocab.GENDERS), size=n, p=vocab.GENDER_WEIGHTS).astype(np.int8)
    location = rng.choice(len(vocab.LOCATIONS), size=n, p=vocab.LOCATION_WEIGHTS).astype(np.int8)
    device = rng.choice(len(vocab.DEVICES), size=n, p=vocab.DEVICE_WEIGHTS).astype(np.int8)

    # a third were customers before the window; the rest sign up as the shop grows
    intensity = calendar.day_intensity()
    day_cdf = np.cumsum(intensity) / intensity.sum()
    early = rng.random(n) < 0.33
    signup = np.where(
        early,
        -rng.integers(1, 1000, n),
        np.searchsorted(day_cdf, rng.random(n)),
    ).astype(np.int32)
    first = np.maximum(signup, 0)
    lifetime = 10 + rng.exponential(320.0, n)
    last = np.minimum(calendar.N_DAYS, first + lifetime).astype(np.int32)
    last = np.maximum(last, first + 1)

    # favourite categories: 1-4 leaves weighted by a demographic prior, plus some breadth
    priors = np.stack([_demographic_leaf_prior(a, g) for a in range(len(vocab.AGE_BANDS)) for g in range(len(vocab.GENDERS))])
    prior = priors[age.astype(int) * len(vocab.GENDERS) + gender]
    n_fav = rng.integers(1, 5, n)
    gumbel = -np.log(-np.log(rng.random((n, n_leaves))))
    order = np.argsort(-(np.log(prior) + gumbel), axis=1)
    fav_w = np.zeros((n, n_leaves))
    dirichlet = rng.dirichlet(np.ones(4) * 0.8, size=n)
    for j in range(4):
        has = j < n_fav
        fav_w[np.arange(n)[has], order[has, j]] += dirichlet[has, j]
    fav_w /= fav_w.sum(axis=1, keepdims=True)
    leaf_p = 0.82 * fav_w + 0.18 * prior
    leaf_cdf = np.cumsum(leaf_p, axis=1).astype(np.float32)
    leaf_cdf[:, -1] = 1.0

    # taste: favourite categories, a couple of favourite brands in them, and idiosyncrasy
    # (brand and style reach the taste through a few products from favourite categories)
    fav_leaf = (leaf_cdf[:, None, :] < rng.random((n, 3, 1))).sum(axis=2).clip(0, n_leaves - 1)
    perm, start, stop = items_by_leaf(catalog)
    pick = start[fav_leaf] + (rng.random((n, 3)) * (stop - start)[fav_leaf]).astype(np.int64)
    fav_items = perm[pick]
    taste = _unit(
        fav_w @ leaf_vec
        + 0.45 * catalog.vec[fav_items].mean(axis=1)
        + 0.5 * _unit(rng.standard_normal((n, DIM)))
    )
    price_pref = rng.normal(0.0, 0.5, n).astype(np.float32)
    buy_rate = rng.lognormal(0.0, 0.5, n).astype(np.float32)

    # sessions: heavy-tailed activity, proportional to the active span; scaled to the target
    activity = rng.lognormal(0.0, 1.0, n) * (last - first) / 365.0
    target_sessions = scale.n_events / mean_session_events
    extra = max(target_sessions - n, 0.0) / activity.sum()
    n_sessions = (1 + rng.poisson(activity * extra)).astype(np.int32)
    return Shoppers(
        age_band=age, gender=gender, location=location, device=device, signup_day=signup,
        first_day=first.astype(np.int32), last_day=last, n_sessions=n_sessions, leaf_cdf=leaf_cdf,
        taste=taste, price_pref=price_pref, buy_rate=buy_rate,
    )


def items_by_leaf(catalog: Catalog) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Items ordered by leaf, and each leaf's [start, stop) range in that order."""
    perm = np.argsort(catalog.leaf, kind="stable")
    leaves = np.arange(len(vocab.LEAVES))
    start = np.searchsorted(catalog.leaf[perm], leaves, side="left")
    stop = np.searchsorted(catalog.leaf[perm], leaves, side="right")
    return perm, start, stop
