"""What shoppers did since the bundle was built: the history fold-in reads on the next request.

``/feedback`` events land here at once (a lock, a dict per shopper), so the
very next ``recommend`` for that shopper scores their bundle history plus
these events: no retrain, no wait. Impressions are kept out (being shown an
item says nothing of taste). Items are kept by id, so the live history
survives a bundle reload. Each shopper has a version number that every
change bumps, so cached responses of that shopper stop matching.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

from recsys_cli.bundle import STRENGTH

TASTE_EVENTS = ("view", "click", "add_to_cart", "purchase", "favorite", "rating")
DEFAULT_WEIGHTS = {"view": 1.0, "click": 1.0, "add_to_cart": 3.0, "purchase": 5.0, "favorite": 2.0, "rating": 1.0}


@dataclass
class _Shopper:
    items: dict[str, list[float]] = field(default_factory=dict)  # item id -> [summed weight, strongest code]
    version: int = 0


class LiveState:
    """Per-shopper live events (by external id: new shoppers have no index), thread-safe.

    Bounded: at most ``max_items`` per shopper and ``max_shoppers`` shoppers
    (the least recently active is forgotten first), so a stream of new ids
    cannot grow the server's memory without end; what is forgotten is still
    in the event store. Versions come from one counter, so a forgotten
    shopper who returns never meets a cached list of their earlier self.
    """

    def __init__(self, event_weights: dict[str, float] | None = None, max_items: int = 500,
                 max_shoppers: int = 100_000) -> None:
        self.weights = {**DEFAULT_WEIGHTS, **(event_weights or {})}
        self.max_items = max_items
        self.max_shoppers = max_shoppers
        self._lock = threading.Lock()
        self._shoppers: OrderedDict[str, _Shopper] = OrderedDict()
        self._changes = 0

    def add(self, user_id: str, item: str, event: str) -> bool:
        """Record one event; True when it changes what the shopper's next list is folded in from."""
        if event not in TASTE_EVENTS:
            return False
        weight = float(self.weights.get(event, 1.0))
        code = STRENGTH.get(event, 1)
        with self._lock:
            shopper = self._shoppers.get(user_id)
            if shopper is None:
                shopper = self._shoppers[user_id] = _Shopper()
                while len(self._shoppers) > self.max_shoppers:
                    self._shoppers.popitem(last=False)
            else:
                self._shoppers.move_to_end(user_id)
            entry = shopper.items.get(item)
            if entry is None:
                if len(shopper.items) >= self.max_items:  # keep the newest: drop the oldest entry
                    shopper.items.pop(next(iter(shopper.items)))
                shopper.items[item] = [weight, float(code)]
            else:
                entry[0] += weight
                entry[1] = max(entry[1], float(code))
            self._changes += 1
            shopper.version = self._changes
        return True

    def version(self, user_id: str) -> int:
        shopper = self._shoppers.get(user_id)
        return shopper.version if shopper is not None else 0

    def row(self, user_id: str) -> tuple[list[str], np.ndarray, np.ndarray]:
        """The shopper's live item ids, summed weights and strongest codes (empty if none)."""
        with self._lock:
            shopper = self._shoppers.get(user_id)
            if shopper is None or not shopper.items:
                return [], np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int8)
            items = list(shopper.items.keys())
            values = np.array(list(shopper.items.values()), dtype=np.float32)
        return items, values[:, 0], values[:, 1].astype(np.int8)

    def clear(self) -> None:
        with self._lock:
            self._shoppers.clear()

    def __len__(self) -> int:
        return len(self._shoppers)
