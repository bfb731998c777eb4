"""Request and response bodies of the HTTP API (pydantic): the OpenAPI schema at /docs comes from here.

Requests are strict about shape (unknown fields are a 422 naming them), about
types (numbers are JSON numbers: ``true``, ``"5"`` or ``2.0`` for an integer
are refused, as the schema says) and about sizes (ids and lists are bounded),
so nothing a client sends can make the service work harder than a real
request would.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

Id = Annotated[str, StringConstraints(min_length=1, max_length=256)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=256)]
Price = Annotated[float, Field(ge=0, le=1e9, allow_inf_nan=False, strict=True)]
EventType = Literal["impression", "view", "click", "add_to_cart", "purchase"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PriceBand(Strict):
    min: Price | None = None
    max: Price | None = None

    @model_validator(mode="after")
    def _ordered(self) -> PriceBand:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("min is above max")
        return self


class Filters(Strict):
    """Hard constraints: only products that pass every given filter are listed."""

    categories: list[Name] = Field(default_factory=list, max_length=50)
    brands: list[Name] = Field(default_factory=list, max_length=50)
    price: PriceBand | None = None


class Preferences(Strict):
    """What a new shopper tells us (onboarding): categories, brands, a price band."""

    categories: list[Name] = Field(default_factory=list, max_length=50)
    brands: list[Name] = Field(default_factory=list, max_length=50)
    price: PriceBand | None = None


class Demographics(Strict):
    age_band: Name | None = None
    gender: Name | None = None
    location: Name | None = None


class Context(Strict):
    device: Name | None = None
    session_items: list[Id] = Field(default_factory=list, max_length=100, description="items of the current session")


class RecommendBody(Strict):
    user_id: Id
    k: int | None = Field(default=None, ge=1, strict=True,
                          description="list length (default serve.default_k, at most serve.max_k)")
    context: Context | None = None
    exclude: list[Id] = Field(default_factory=list, max_length=1000)
    filters: Filters | None = None
    preferences: Preferences | None = None
    demographics: Demographics | None = None


class Item(BaseModel):
    item_id: str
    score: float
    explanation: str | None = None


class RecommendResponse(BaseModel):
    user_id: str
    items: list[Item]
    strategy: Literal["personalised", "fold_in", "cold_start", "popular_fallback"]
    model: str
    bundle: str
    request_id: str
    arm: str | None = None


class SimilarResponse(BaseModel):
    item_id: str
    method: Literal["collaborative", "content"]
    model: str
    bundle: str
    items: list[Item]


class Event(Strict):
    user_id: Id
    item_id: Id
    event: EventType
    price: Price | None = Field(default=None, description="unit price paid (purchase)")
    quantity: int = Field(default=1, ge=1, le=10_000, strict=True)
    position: int | None = Field(default=None, ge=0, le=10_000, strict=True, description="list position (impression)")
    request_id: Annotated[str, StringConstraints(max_length=64)] | None = None
    timestamp: float | None = Field(default=None, ge=0, le=1e11, allow_inf_nan=False, strict=True,
                                    description="epoch seconds (default: when received)")


class EventBatch(Strict):
    events: list[Event] = Field(min_length=1)


class FeedbackResponse(BaseModel):
    accepted: int
    unknown_items: int = 0
    stored: bool = False


class Health(BaseModel):
    status: str
    bundle: str | None = None
    model: str | None = None
    detail: str | None = None


class ReloadBody(Strict):
    bundle: Annotated[str, StringConstraints(min_length=1, max_length=4096)] | None = None


class Problem(BaseModel):
    detail: str


class ArmBody(Strict):
    name: Name
    bundle: Annotated[str, StringConstraints(min_length=1, max_length=4096)] | None = None
    weight: float = Field(default=1.0, gt=0, le=1e6, strict=True)
    serve: dict[str, Any] = Field(default_factory=dict)


class ExperimentBody(Strict):
    name: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{1,64}$")]
    arms: list[ArmBody] = Field(min_length=2, max_length=20)
    allocation: Literal["hashed", "thompson", "ucb1"] = "hashed"
    reward: Literal["click", "purchase"] = "click"
    salt: Annotated[str, StringConstraints(max_length=256)] | None = None


class PromoteBody(Strict):
    arm: Name | None = None
