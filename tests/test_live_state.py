"""The live state of shoppers is bounded: new ids cannot grow the server's memory without end."""

from __future__ import annotations

from recsys_cli.service.live import LiveState


def test_the_least_recently_active_shoppers_are_forgotten_first() -> None:
    live = LiveState(max_shoppers=100, max_items=5)
    for i in range(1000):
        live.add(f"u{i}", "p1", "view")
    assert len(live) == 100
    assert live.row("u0")[0] == [] and live.row("u999")[0] == ["p1"]
    live.add("u900", "p2", "click")  # active again: kept over older ones
    for i in range(1000, 1099):
        live.add(f"u{i}", "p1", "view")
    assert live.row("u900")[0] == ["p1", "p2"] and live.row("u901")[0] == []
    for i in range(20):
        live.add("busy", f"item{i}", "view")
    assert live.row("busy")[0] == [f"item{i}" for i in range(15, 20)]  # the newest max_items


def test_a_forgotten_shopper_who_returns_gets_a_new_version() -> None:
    live = LiveState(max_shoppers=2)
    seen = set()
    for _ in range(3):
        for user in ("a", "b", "c"):  # three shoppers through two places: each is forgotten and returns
            live.add(user, "p1", "view")
            assert live.version(user) not in seen  # never a version a cached list of an earlier self used
            seen.add(live.version(user))
