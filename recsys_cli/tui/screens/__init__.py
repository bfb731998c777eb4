"""Screens of the explorer: one per module, each with its own .tcss beside it."""
