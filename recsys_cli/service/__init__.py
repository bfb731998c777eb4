"""The one in-process service behind ``recsys serve``, the TUI, batch-recommend and the MLflow model."""

from recsys_cli.service.core import RecommenderService
from recsys_cli.service.types import Filters, Preferences, Recommendation, ScoredItem, Similar

__all__ = ["Filters", "Preferences", "Recommendation", "RecommenderService", "ScoredItem", "Similar"]
