"""SVG snapshots of every screen on the session's tiny shop, at 80x24 and 120x40 (cursor blink off).

Update after a deliberate change with ``pytest tests/tui/test_snapshots.py --snapshot-update``
and look at each changed SVG (``__snapshots__/``) before committing it.
"""

from __future__ import annotations

import pytest

from recsys_cli.tui.app import ExplorerApp

SIZES = {"80x24": (80, 24), "120x40": (120, 40)}


async def settle(pilot) -> None:  # noqa: ANN001
    for _ in range(4):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()


def steps(*keys: str):  # noqa: ANN201
    """Wait for the loads, press the keys (waiting for the work each starts), wait again."""

    async def run(pilot) -> None:  # noqa: ANN001
        await settle(pilot)
        for key in keys:
            await pilot.press(key)
            await settle(pilot)

    return run


SCREENS = {
    "shoppers": steps(),
    "shopper_detail": steps("down", "enter"),
    "shopper_two_models": steps("enter", "m", "down", "down", "enter"),
    "catalog": steps("2"),
    "product_detail": steps("2", "enter"),
    "playground": steps("3", "down", "enter", "tab", "down", "down", "enter"),
    "playground_fold_in": steps("3", "down", "enter", "tab", "tab", "tab", "b"),
    "metrics_table": steps("4"),
    "metrics_at_k": steps("4", "k"),
    "metrics_segments": steps("4", "g"),
    "metrics_compare": steps("4", "c"),
    "experiments": steps("5"),
}


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("screen", SCREENS)
def test_screen(snap_compare, tui_cfg, screen: str, size: str) -> None:
    app = ExplorerApp(tui_cfg, cursor_blink=False)
    assert snap_compare(app, terminal_size=SIZES[size], run_before=SCREENS[screen])
