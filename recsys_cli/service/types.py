"""What the service answers: plain dataclasses, in external ids. No model code here."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Strategy = Literal["personalised", "fold_in", "cold_start", "popular_fallback"]


@dataclass
class ScoredItem:
    item_id: str
    score: float
    explanation: str | None = None


@dataclass
class Recommendation:
    user_id: str
    items: list[ScoredItem]
    strategy: Strategy
    model: str
    bundle: str
    request_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Similar:
    item_id: str
    items: list[ScoredItem]
    method: Literal["collaborative", "content"]
    model: str
    bundle: str


@dataclass
class Preferences:
    """What a new shopper tells us (or what we know of them) before they have a history."""

    categories: list[str] = field(default_factory=list)
    brands: list[str] = field(default_factory=list)
    price_min: float | None = None
    price_max: float | None = None
    age_band: str | None = None
    gender: str | None = None
    location: str | None = None

    def empty(self) -> bool:
        return not (self.categories or self.brands or self.price_min is not None or self.price_max is not None
                    or self.age_band or self.gender or self.location)


@dataclass
class Filters:
    """Hard constraints on what may be listed."""

    categories: list[str] = field(default_factory=list)
    brands: list[str] = field(default_factory=list)
    price_min: float | None = None
    price_max: float | None = None

    def empty(self) -> bool:
        return not (self.categories or self.brands or self.price_min is not None or self.price_max is not None)


@dataclass
class RecommendRequest:
    """One shopper's request: who, how many, what to leave out, what they told us, what they just did."""

    user_id: str
    k: int = 10
    exclude: list[str] = field(default_factory=list)  # item ids never to list
    filters: Filters | None = None
    preferences: Preferences | None = None
    session_items: list[str] = field(default_factory=list)  # items viewed in the current session (context)
    device: str | None = None
    request_id: str | None = None

    def cache_key(self) -> str:
        """Everything that shapes the list (not the request id)."""
        import json

        body = asdict(self)
        body.pop("request_id", None)
        return json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
