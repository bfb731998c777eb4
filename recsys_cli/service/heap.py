"""Keep the cyclic garbage collector off a loaded bundle's objects.

A loaded service holds millions of Python objects (id maps, catalog tables,
explanation texts); CPython's full (generation 2) collection walks all of them
each time it runs: a 160 ms pause at ``data.scale=full``, measured as the slow
moves of `recsys tui` (bench/tui_explorer.py) and a latency spike for a server.
After a load (or a swap), everything alive is collected once and then frozen:
``gc.freeze()`` moves it to a permanent generation the collector skips, while
reference counting still frees it as usual. A later swap unfreezes first, so
the replaced service's cycles are collected before the new one is frozen.
"""

from __future__ import annotations

import gc
import threading

_lock = threading.Lock()


def settle() -> None:
    """Collect what is garbage now, then freeze everything alive (call after loading or swapping a service)."""
    with _lock:
        gc.unfreeze()
        gc.collect()
        gc.freeze()
