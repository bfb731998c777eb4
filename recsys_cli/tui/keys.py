"""The explorer's navigation keys, in one place: the app shows them; detail screens keep them but hide them.

An 80-column footer holds the screen's own keys and these; a detail screen
(a shopper, a product) has more keys of its own, so there the number keys
still work but only ``esc Back`` and the screen's keys are shown.
"""

from __future__ import annotations

from textual.binding import Binding

SCREENS = (("1", "shoppers", "Shoppers"), ("2", "catalog", "Catalog"), ("3", "playground", "Cold start"),
           ("4", "metrics", "Metrics"), ("5", "experiments", "Experiments"))

NAV = [Binding(key, f"app.switch_mode('{mode}')", label) for key, mode, label in SCREENS]
NAV_HIDDEN = [Binding(key, f"app.switch_mode('{mode}')", label, show=False) for key, mode, label in SCREENS]
