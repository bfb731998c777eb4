"""When shoppers shop: daily intensity (growth, weekdays, season, promotions) and hours.

Figures follow public shop logs (see shared ANCHORS): evening peak ~21:00 and
trough ~04:00 about 17x apart, a weekend and Friday lift, November-December
around 1.6x October, promotion days ~1.5-2.5x a normal day.
"""

from __future__ import annotations

import numpy as np

START = np.datetime64("2024-01-01", "D")
END = np.datetime64("2026-01-01", "D")  # exclusive: two full years
N_DAYS = int((END - START).astype(int))

# Monday .. Sunday
WEEKDAY = np.array([0.93, 0.91, 0.94, 0.97, 1.08, 1.12, 1.07])
# January .. December, relative to October = 1.0
MONTH = np.array([0.95, 0.85, 0.9, 0.9, 0.92, 0.88, 0.95, 0.93, 0.95, 1.0, 1.35, 1.6])
HOURS = np.array(
    [0.45, 0.28, 0.17, 0.11, 0.08, 0.10, 0.18, 0.32, 0.50, 0.65, 0.75, 0.80,
     0.85, 0.85, 0.82, 0.80, 0.80, 0.85, 0.95, 1.10, 1.25, 1.36, 1.15, 0.80]
)
HOUR_CDF = np.cumsum(HOURS) / HOURS.sum()


def _promo_days() -> dict[np.datetime64, float]:
    """Black Friday, Cyber Monday, a summer sale and January sales for each year."""
    promos: dict[np.datetime64, float] = {}
    for year in range(2024, 2026):
        nov30 = np.datetime64(f"{year}-11-30", "D")
        # the last Friday of November (1970-01-01 was a Thursday: weekday = (days + 3) % 7)
        back = (int(nov30.astype(int)) + 3 - 4) % 7
        black_friday = nov30 - back
        promos[black_friday] = 2.5
        promos[black_friday + 3] = 2.0  # Cyber Monday
        for d in range(3):
            promos[np.datetime64(f"{year}-07-10", "D") + d] = 1.5
            promos[np.datetime64(f"{year}-01-02", "D") + d] = 1.4
    return promos


PROMO_DAYS = _promo_days()


def day_intensity() -> np.ndarray:
    """Relative shopping volume of every day in [START, END)."""
    days = START + np.arange(N_DAYS)
    day_num = days.astype(int)
    weekday = (day_num + 3) % 7
    month = days.astype("datetime64[M]").astype(int) % 12
    growth = 1.0 + 0.35 * np.arange(N_DAYS) / N_DAYS
    out = growth * WEEKDAY[weekday] * MONTH[month]
    for day, lift in PROMO_DAYS.items():
        if START <= day < END:
            out[int((day - START).astype(int))] *= lift
    return out


def promo_mask() -> np.ndarray:
    mask = np.zeros(N_DAYS, dtype=bool)
    for day in PROMO_DAYS:
        if START <= day < END:
            mask[int((day - START).astype(int))] = True
    return mask
