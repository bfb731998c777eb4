"""The built-in synthetic e-commerce shop: the default data, no download needed.

``generate(scale, seed)`` is deterministic for a given seed and scale. Events
are simulated in fixed-size blocks of shoppers, each with its own random
stream, so memory stays bounded at ``full`` scale and the result does not
depend on the machine.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from recsys_cli.config import DataConfig
from recsys_cli.data.sources.synthetic import calendar, vocab
from recsys_cli.data.sources.synthetic.events import EVENT_NAMES, Simulator, session_views
from recsys_cli.data.sources.synthetic.world import (
    SCALES,
    Catalog,
    Scale,
    Shoppers,
    build_catalog,
    build_shoppers,
    leaf_vectors,
)
from recsys_cli.data.tables import RawData
from recsys_cli.progress import progress_bar

BLOCK_USERS = 4096
__all__ = ["SCALES", "World", "build_world", "generate", "load"]


@dataclass
class World:
    scale: Scale
    seed: int
    catalog: Catalog
    shoppers: Shoppers


def _rng(seed: int, *stream: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, *stream]))


def build_world(scale: str, seed: int) -> World:
    """The hidden products and shoppers (deterministic for scale and seed)."""
    spec = SCALES[scale]
    leaf_vec = leaf_vectors(_rng(seed, 1))
    catalog = build_catalog(spec.n_items, _rng(seed, 2), leaf_vec)
    views = session_views(_rng(seed, 3), 200_000)
    mean_events = float(views.mean()) * 1.05  # views plus carts and purchases
    shoppers = build_shoppers(spec, _rng(seed, 4), catalog, leaf_vec, mean_events)
    return World(scale=spec, seed=seed, catalog=catalog, shoppers=shoppers)


def user_ids(n: int) -> list[str]:
    return [f"u{i:06d}" for i in range(n)]


def item_ids(n: int) -> list[str]:
    return [f"p{i:06d}" for i in range(n)]


def _catalog_table(world: World) -> pl.DataFrame:
    cat = world.catalog
    rng = _rng(world.seed, 5)
    n = cat.n
    adj_pick = rng.integers(0, 1000, (n, 2))
    noun_pick = rng.integers(0, 1000, n)
    feat_pick = rng.integers(0, 1000, (n, 2))
    mat_pick = rng.integers(0, 1000, n)
    colour = rng.integers(0, len(vocab.COLOURS), n)
    series = rng.integers(0, len(vocab.SERIES), n)
    model_no = rng.integers(1, 10, n)
    titles, descriptions, categories, brands = [], [], [], []
    for i in range(n):
        top, leaf = vocab.LEAVES[cat.leaf[i]]
        brand = cat.brand_names[cat.brand[i]]
        adj1 = top.adjectives[adj_pick[i, 0] % len(top.adjectives)]
        adj2 = top.adjectives[adj_pick[i, 1] % len(top.adjectives)]
        noun = leaf.nouns[noun_pick[i] % len(leaf.nouns)]
        f1 = top.features[feat_pick[i, 0] % len(top.features)]
        f2 = top.features[feat_pick[i, 1] % len(top.features)]
        material = top.materials[mat_pick[i] % len(top.materials)]
        titles.append(f"{brand} {adj1.capitalize()} {noun.title()} {vocab.SERIES[series[i]]} {model_no[i]}")
        extra = f" and {f2}" if f2 != f1 else ""
        descriptions.append(
            f"The {brand} {noun} is a {adj1}{', ' + adj2 if adj2 != adj1 else ''} choice in "
            f"{leaf.name.lower()}, with {f1}{extra}. Made of {material}, in {vocab.COLOURS[colour[i]]}."
        )
        categories.append(f"{top.name} > {leaf.name}")
        brands.append(brand)
    launch = (calendar.START + cat.launch_day.astype("timedelta64[D]")).astype("datetime64[ms]")
    return pl.DataFrame(
        {
            "item_id": item_ids(n),
            "title": titles,
            "description": descriptions,
            "category": categories,
            "brand": brands,
            "price": cat.price,
            "launch_date": launch,
        }
    )


def _users_table(world: World) -> pl.DataFrame:
    sh = world.shoppers
    signup = (calendar.START + sh.signup_day.astype("timedelta64[D]")).astype("datetime64[ms]")
    return pl.DataFrame(
        {
            "user_id": user_ids(sh.n),
            "age_band": np.array(vocab.AGE_BANDS)[sh.age_band],
            "gender": np.array(vocab.GENDERS)[sh.gender],
            "location": np.array(vocab.LOCATIONS)[sh.location],
            "signup_date": signup,
        }
    )


def _events_table(world: World, show_progress: bool) -> pl.DataFrame:
    sim = Simulator(world.catalog, world.shoppers)
    n_users = world.shoppers.n
    blocks = range(0, n_users, BLOCK_USERS)
    frames = []
    with progress_bar() as bar:
        task = bar.add_task("simulating shoppers", total=n_users, visible=show_progress)
        for k, first in enumerate(blocks):
            users = np.arange(first, min(first + BLOCK_USERS, n_users))
            b = sim.block(users, _rng(world.seed, 100, k))
            frames.append(
                pl.DataFrame(
                    {
                        "user": b.user,
                        "item": b.item,
                        "time": b.time,
                        "event": b.event,
                        "session": b.session,
                        "device": b.device,
                    }
                )
            )
            bar.advance(task, len(users))
    ev = pl.concat(frames)
    start_ms = int(calendar.START.astype("datetime64[ms]").astype(np.int64))
    price = pl.Series(world.catalog.price)
    return ev.select(
        user_id=pl.lit("u") + pl.col("user").cast(pl.Utf8).str.zfill(6),
        item_id=pl.lit("p") + pl.col("item").cast(pl.Utf8).str.zfill(6),
        timestamp=(pl.col("time") * 1000 + start_ms).cast(pl.Datetime("ms")),
        event=pl.col("event").replace_strict(list(range(3)), list(EVENT_NAMES), return_dtype=pl.Utf8),
        price=pl.col("item").map_batches(lambda s: pl.Series(price.to_numpy()[s.to_numpy()])),
        session_id=pl.lit("u")
        + pl.col("user").cast(pl.Utf8).str.zfill(6)
        + pl.lit("-")
        + pl.col("session").cast(pl.Utf8),
        device=pl.col("device").replace_strict(list(range(3)), list(vocab.DEVICES), return_dtype=pl.Utf8),
    )


def generate(scale: str = "small", seed: int = 42, show_progress: bool = True) -> RawData:
    world = build_world(scale, seed)
    events = _events_table(world, show_progress)
    desc = (
        f"synthetic shop (scale={scale}, seed={seed}): {world.shoppers.n:,} users, "
        f"{world.catalog.n:,} products, {events.height:,} events"
    )
    return RawData.build(events, _catalog_table(world), _users_table(world), description=desc)


def load(cfg: DataConfig) -> RawData:
    return generate(cfg.scale, cfg.seed)
