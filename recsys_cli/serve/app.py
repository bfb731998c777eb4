"""The FastAPI app: thin routes over the one RecommenderService (loaded once, swapped on reload).

``create_app(cfg)`` returns the app; the bundle loads in a background thread
at start-up, so ``/health/live`` answers at once and ``/health/ready`` (and
every recommendation route, with a 503 until then) once the bundle is loaded
and verified. ``POST /admin/reload`` loads and verifies a new bundle off the
event loop, then swaps it in with one assignment: requests already running
finish on the bundle they started with; a bundle that fails to load is
refused and the old one keeps serving.
"""

from __future__ import annotations

import asyncio
import hmac
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import orjson
from fastapi import Body, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import Discriminator, Tag

from recsys_cli.config import Config
from recsys_cli.errors import RecsysError
from recsys_cli.serve import schemas as s
from recsys_cli.serve.cache import ResponseCache, make_cache, request_hash
from recsys_cli.serve.guard import Guard, setup_access_log
from recsys_cli.serve.metrics import CONTENT_TYPE_LATEST, Metrics
from recsys_cli.service import RecommenderService
from recsys_cli.service.live import LiveState
from recsys_cli.service.types import Filters, Preferences, RecommendRequest


class Unavailable(Exception):
    """503: the bundle is not loaded (yet), or a dependency the route needs is down."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass
class State:
    """What the routes share: the current service, the cache, the metrics, the live events."""

    cfg: Config
    metrics: Metrics
    cache: ResponseCache
    live: LiveState
    service: RecommenderService | None = None
    bundle_path: Path | None = None
    error: str | None = None
    reload_lock: threading.Lock = field(default_factory=threading.Lock)
    sink: Any = None  # the event store (recsys_cli/serve/events.py) when one is configured
    experiments: Any = None  # online experiments (recsys_cli/serve/experiments.py)

    def current(self) -> RecommenderService:
        service = self.service
        if service is None:
            raise Unavailable(self.error or "not ready: the bundle is still loading")
        return service

    def load(self, path: Path) -> RecommenderService:
        """Load and verify a bundle (raises on any problem); does not swap it in. ``s3://``: a verified local copy."""
        from recsys_cli.remote import local_bundle

        return RecommenderService.load(local_bundle(path, self.cfg.s3), self.cfg.serve, live=self.live)

    def swap(self, service: RecommenderService, path: Path) -> None:
        self.service, self.bundle_path, self.error = service, path, None
        self.metrics.set_bundle(service.version, service.model_name)


def _json(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


def _problem(status: int, detail: str) -> Response:
    return _json({"detail": detail}, status)


def _loc(loc: tuple[Any, ...]) -> str:
    """``('body', 'single', 'filters', 'price', 'min')`` -> ``body.filters.price.min`` (union tags dropped)."""
    parts: list[str] = []
    for part in loc:
        if part in ("single", "batch") and parts == ["body"]:
            continue
        if isinstance(part, int):
            parts[-1:] = [f"{parts[-1]}[{part}]"] if parts else [f"[{part}]"]
        else:
            parts.append(str(part))
    return ".".join(parts) or "body"


def _validation_detail(exc: RequestValidationError) -> str:
    errors = exc.errors()
    if not errors:
        return "body: invalid request"
    first = errors[0]
    where = _loc(tuple(first.get("loc", ())))
    if first.get("type") == "json_invalid":
        ctx = first.get("ctx") or {}
        return f"body: invalid JSON ({ctx.get('error', 'cannot parse')})"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}: {first.get('msg', 'invalid')}{more}"


def _feedback_kind(value: Any) -> str:
    return "batch" if isinstance(value, dict) and "events" in value else "single"


FeedbackBody = Annotated[
    Annotated[s.Event, Tag("single")] | Annotated[s.EventBatch, Tag("batch")],
    Discriminator(_feedback_kind),
]


def create_app(cfg: Config, service: RecommenderService | None = None, load: bool = True) -> FastAPI:
    """The app over ``cfg.bundle_path`` (or an already loaded ``service``)."""
    serve = cfg.serve
    setup_access_log(serve.log_requests)
    metrics = Metrics()
    state = State(cfg=cfg, metrics=metrics, cache=make_cache(serve.cache, serve.cache_size, serve.cache_ttl),
                  live=service.live if service is not None else LiveState())
    if service is not None:
        state.swap(service, service.bundle.path)

    async def lifespan(app: FastAPI):  # noqa: ANN202
        if state.service is None and load:
            path = cfg.bundle_path

            def background() -> None:
                try:
                    loaded = state.load(path)
                    state.live.weights.update(loaded._event_weights())
                    state.swap(loaded, path)
                except Exception as exc:  # noqa: BLE001 - reported by /health/ready, never a crash
                    state.error = f"not ready: {exc}".splitlines()[0]
                    metrics.ready.set(0)

            threading.Thread(target=background, name="recsys-bundle-load", daemon=True).start()
        yield
        if state.sink is not None:
            await state.sink.close()

    app = FastAPI(
        title="recsys",
        version=_version(),
        summary="Product recommendations: personalised, fold-in, cold start, similar items, feedback.",
        lifespan=lifespan,
    )
    app.state.recsys = state

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        return _problem(422, _validation_detail(exc))

    @app.exception_handler(Unavailable)
    async def unavailable(request: Request, exc: Unavailable) -> Response:
        return _problem(503, exc.detail)

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception) -> Response:  # never expected: one line, no traceback out
        import logging

        logging.getLogger("recsys.serve").exception("unexpected error on %s", request.url.path)
        return _problem(500, f"internal error ({type(exc).__name__})")

    def check_k(k: int | None) -> int:
        k = serve.default_k if k is None else k
        if k > serve.max_k:
            raise RequestValidationError([{"loc": ("body", "k"), "msg": f"{k} is above serve.max_k={serve.max_k}",
                                           "type": "value_error"}])
        return k

    def answer(request: Request, req: RecommendRequest) -> Response:
        service = state.current()
        request.state.user_id = req.user_id
        key = request_hash(req.cache_key()) + f":{state.live.version(req.user_id)}"
        cached = state.cache.get(service.version, req.user_id, key)
        if cached is not None:
            metrics.cache.labels("hit").inc()
            body = orjson.loads(cached)
        else:
            metrics.cache.labels("miss").inc()
            rec = service.recommend(req)
            body = {"user_id": rec.user_id,
                    "items": [{"item_id": i.item_id, "score": i.score, "explanation": i.explanation} for i in rec.items],
                    "strategy": rec.strategy, "model": rec.model, "bundle": rec.bundle}
            state.cache.put(service.version, req.user_id, key, orjson.dumps(body))
        request.state.strategy = body["strategy"]
        body["request_id"] = request.state.request_id
        body["arm"] = None
        return _json(body)

    # ------------------------------------------------------------------ recommendations

    @app.post("/recommend", response_model=s.RecommendResponse, tags=["recommend"],
              responses={422: {"model": s.Problem}, 503: {"model": s.Problem}})
    async def recommend(request: Request, body: s.RecommendBody) -> Response:
        """Top-k for a shopper, known or not: personalised, fold-in of what they just did, cold start, popularity."""
        k = check_k(body.k)
        prefs = None
        if body.preferences is not None or body.demographics is not None:
            p, d = body.preferences, body.demographics
            prefs = Preferences(
                categories=list(p.categories) if p else [], brands=list(p.brands) if p else [],
                price_min=p.price.min if p and p.price else None, price_max=p.price.max if p and p.price else None,
                age_band=d.age_band if d else None, gender=d.gender if d else None, location=d.location if d else None,
            )
        filters = None
        if body.filters is not None:
            f = body.filters
            filters = Filters(categories=list(f.categories), brands=list(f.brands),
                              price_min=f.price.min if f.price else None, price_max=f.price.max if f.price else None)
        req = RecommendRequest(
            user_id=body.user_id, k=k, exclude=list(body.exclude), filters=filters, preferences=prefs,
            session_items=list(body.context.session_items) if body.context else [],
            device=body.context.device if body.context else None, request_id=request.state.request_id,
        )
        return answer(request, req)

    @app.get("/users/{user_id}/recommendations", response_model=s.RecommendResponse, tags=["recommend"],
             responses={422: {"model": s.Problem}, 503: {"model": s.Problem}})
    async def user_recommendations(request: Request, user_id: Annotated[str, s.StringConstraints(max_length=256)],
                                   k: Annotated[int | None, Query(ge=1)] = None) -> Response:
        """The same list as POST /recommend with only a user id."""
        k = check_k(k)
        return answer(request, RecommendRequest(user_id=user_id, k=k, request_id=request.state.request_id))

    @app.get("/items/{item_id}/similar", response_model=s.SimilarResponse, tags=["recommend"],
             responses={404: {"model": s.Problem}, 422: {"model": s.Problem}, 503: {"model": s.Problem}})
    async def similar(request: Request, item_id: Annotated[str, s.StringConstraints(max_length=256)],
                      k: Annotated[int | None, Query(ge=1)] = None,
                      method: Annotated[s.Literal["collaborative", "content"], Query()] = "collaborative") -> Response:
        """Products like this one: by the model's own item similarity, or by text and attributes."""
        k = check_k(k)
        service = state.current()
        request.state.item_id = item_id
        request.state.strategy = method
        found = service.similar(item_id, k, method)
        if found is None:
            return _problem(404, f"item {item_id!r} is not in the catalog")
        return _json({"item_id": found.item_id, "method": found.method, "model": found.model,
                      "bundle": found.bundle, "items": [{"item_id": i.item_id, "score": i.score,
                                                         "explanation": None} for i in found.items]})

    # ------------------------------------------------------------------ feedback

    @app.post("/feedback", response_model=s.FeedbackResponse, tags=["feedback"],
              responses={413: {"model": s.Problem}, 422: {"model": s.Problem}, 503: {"model": s.Problem}})
    async def feedback(request: Request, body: Annotated[FeedbackBody, Body()]) -> Response:
        """One event or a batch (``{"events": [...]}``): what a shopper saw and did. Reaches their next list at once."""
        events = body.events if isinstance(body, s.EventBatch) else [body]
        if len(events) > serve.max_batch:
            return _problem(422, f"body.events: {len(events):,} events is over serve.max_batch={serve.max_batch:,}")
        service = state.current()
        request.state.events = len(events)
        if len(events) == 1:
            request.state.user_id = events[0].user_id
        stored = False
        if state.sink is not None:
            await state.sink.write(events, service)  # raises Unavailable (503) when the store is down
            stored = True
        unknown = 0
        for event in events:
            if service.item_index(event.item_id) < 0:
                unknown += 1
            if state.live.add(event.user_id, event.item_id, event.event):
                state.cache.invalidate(event.user_id, service.version)
            metrics.feedback.labels(event.event).inc()
        return _json({"accepted": len(events), "unknown_items": unknown, "stored": stored})

    # ------------------------------------------------------------------ operations

    @app.get("/health/live", response_model=s.Health, tags=["operations"])
    async def live() -> Response:
        """The process answers (it may still be loading its bundle)."""
        return _json({"status": "live"})

    @app.get("/health/ready", response_model=s.Health, tags=["operations"],
             responses={503: {"model": s.Health}})
    async def ready() -> Response:
        """Ready once a bundle is loaded and every checksum verified."""
        service = state.service
        if service is None:
            return _json({"status": "loading" if state.error is None else "failed",
                          "detail": state.error or "the bundle is still loading"}, 503)
        return _json({"status": "ready", "bundle": service.version, "model": service.model_name})

    @app.get("/metrics", tags=["operations"], response_class=Response)
    async def prometheus() -> Response:
        """Prometheus text: requests and latency by endpoint and strategy, cache, bundle, feedback."""
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

    def authorised(request: Request) -> bool:
        token = serve.admin_token or os.environ.get("RECSYS_ADMIN_TOKEN")
        given = request.headers.get("authorization", "")
        scheme, _, value = given.partition(" ")
        if not token or scheme.lower() != "bearer" or not value:
            return False
        return hmac.compare_digest(value.encode(), token.encode())

    @app.post("/admin/reload", tags=["admin"], responses={401: {"model": s.Problem}, 422: {"model": s.Problem}})
    async def reload(request: Request, body: Annotated[s.ReloadBody | None, Body()] = None) -> Response:
        """Load and verify a bundle (default: the one served), then swap it in; a bad one is refused."""
        if not authorised(request):
            return Response(orjson.dumps({"detail": "admin endpoints need 'Authorization: Bearer <serve.admin_token>'"}),
                            status_code=401, media_type="application/json", headers={"WWW-Authenticate": "Bearer"})
        path = Path(body.bundle) if body is not None and body.bundle else (state.bundle_path or cfg.bundle_path)
        if not state.reload_lock.acquire(blocking=False):
            return _problem(409, "a reload is already running")
        try:
            started = time.perf_counter()
            try:
                loaded = await asyncio.to_thread(state.load, path)
            except (RecsysError, OSError, ValueError, KeyError) as exc:
                metrics.reloads.labels("refused").inc()
                message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                return _problem(422, f"reload refused, still serving {state.service.version if state.service else 'nothing'}: "
                                     f"{message}")
            old = state.service.version if state.service else None
            state.swap(loaded, path)
            state.cache.clear()
            metrics.reloads.labels("ok").inc()
            return _json({"status": "reloaded", "bundle": loaded.version, "previous": old, "model": loaded.model_name,
                          "seconds": round(time.perf_counter() - started, 3)})
        finally:
            state.reload_lock.release()

    app.add_middleware(Guard, metrics=metrics, max_body=serve.max_body_bytes, log_requests=serve.log_requests)
    return app


def _version() -> str:
    from recsys_cli import __version__

    return __version__
