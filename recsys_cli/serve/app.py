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

from recsys_cli.config import Config, ServeConfig
from recsys_cli.errors import RecsysError
from recsys_cli.manifest import within
from recsys_cli.serve import schemas as s
from recsys_cli.serve.cache import ResponseCache, make_cache, request_hash
from recsys_cli.serve.events import EventStore, StoreUnavailable, rows_from_feedback, store_url
from recsys_cli.serve.experiments import ArmSpec, Experiment, ExperimentSpec
from recsys_cli.serve.guard import UNAUTHORISED, Guard, document, setup_access_log
from recsys_cli.serve.guard import authorised as admin_authorised
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
    store: EventStore | None = None  # the event store (recsys_cli/serve/events.py), when one is configured
    experiment: Experiment | None = None  # the running online experiment, if any
    arms: dict[str, RecommenderService] = field(default_factory=dict)  # its arms' services

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
        from recsys_cli.service.heap import settle

        self.service, self.bundle_path, self.error = service, path, None
        self.metrics.set_bundle(service.version, service.model_name)
        settle()  # the replaced service's cycles collected once; the new one's objects out of the collector's way

    # ------------------------------------------------------------------ experiments
    def arm_path(self, arm: ArmSpec) -> Path:
        if arm.bundle is None:
            return self.bundle_path or self.cfg.bundle_path
        return within(Path(self.cfg.paths.root), arm.bundle, f"arm {arm.name!r} bundle")

    def load_arms(self, spec: ExperimentSpec) -> dict[str, RecommenderService]:
        """Every arm's service, loaded and verified (raises on the first arm that cannot be served)."""
        from recsys_cli.schema import from_dict, to_dict

        services = {}
        for arm in spec.arms:
            config = self.cfg.serve
            if arm.serve:
                config = from_dict(ServeConfig, _merge(to_dict(self.cfg.serve), arm.serve), where=f"arm {arm.name} serve")
            try:
                services[arm.name] = RecommenderService.load(self.arm_path(arm), config, live=self.live)
            except RecsysError as exc:
                raise RecsysError(f"arm {arm.name!r}: {str(exc).splitlines()[0]}") from None
        return services

    def start_experiment(self, spec: ExperimentSpec) -> Experiment:
        services = self.load_arms(spec)
        experiment = Experiment(spec, "running", seed=self.cfg.ab.seed)
        if self.store is not None:
            experiment.load_counts(self.store.arm_counts(spec.name, spec.reward))
        self.arms, self.experiment = services, experiment
        return experiment

    def route(self, user_id: str) -> tuple[RecommenderService, str | None]:
        """The service that answers this shopper: the running experiment's arm, else the default."""
        experiment = self.experiment
        if experiment is None or experiment.status != "running":
            return self.current(), None
        arm = experiment.assign(user_id)
        return self.arms[arm], arm

    def attribute(self, event: Any) -> tuple[str | None, str | None]:
        """(experiment, arm) of a feedback event: its list's arm by request id, else the shopper's hashed arm."""
        experiment = self.experiment
        if experiment is None:
            return None, None
        arm = experiment.arm_of(event.request_id)
        if arm is None and experiment.spec.allocation == "hashed" and experiment.status == "running":
            arm = experiment.hashed(event.user_id)
        return (experiment.spec.name, arm) if arm is not None else (None, None)


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


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
    url = store_url(serve.events, cfg.paths.data_dir)
    store_error: list[str] = []

    def open_store() -> None:
        if url is None or state.store is not None:
            return
        try:
            state.store = EventStore(url)
            store_error.clear()
        except Exception as exc:  # noqa: BLE001 - the store is down: /feedback answers 503 until it is back
            store_error[:] = [f"event store unavailable ({type(exc).__name__}: {str(exc).splitlines()[0][:200]})"]

    def resume_experiments() -> None:
        """The running experiment from the store (a restart), else the configured one (``ab=...``)."""
        if state.store is None:
            return
        rows = state.store.experiments()
        running = [r for r in rows if r["status"] == "running"]
        spec = None
        if running:
            spec = ExperimentSpec.from_dict(running[-1]["spec"])
        elif cfg.ab.name and cfg.ab.start and not any(r["name"] == cfg.ab.name for r in rows):
            spec = spec_from_config(cfg)
        if spec is not None:
            state.start_experiment(spec)
            state.store.save_experiment(spec.name, "running", spec.to_dict(), started=time.time())

    async def lifespan(app: FastAPI):  # noqa: ANN202
        if load:
            path = cfg.bundle_path

            def background() -> None:
                try:
                    open_store()
                    if state.service is None:
                        loaded = state.load(path)
                        state.live.weights.update(loaded._event_weights())
                        state.bundle_path = path
                        resume_experiments()  # before the swap: once ready, a running experiment runs again too
                        state.swap(loaded, path)
                    else:
                        resume_experiments()
                except Exception as exc:  # noqa: BLE001 - reported by /health/ready, never a crash
                    state.service = None
                    state.error = f"not ready: {exc}".splitlines()[0]
                    metrics.ready.set(0)

            threading.Thread(target=background, name="recsys-bundle-load", daemon=True).start()
        yield
        if state.store is not None:
            await state.store.close()

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

    def check_k(k: int | None, where: str = "body") -> int:
        k = serve.default_k if k is None else k
        if k > serve.max_k:
            raise RequestValidationError([{"loc": (where, "k"), "msg": f"{k} is above serve.max_k={serve.max_k}",
                                           "type": "value_error"}])
        return k

    def answer(request: Request, req: RecommendRequest) -> Response:
        service, arm = state.route(req.user_id)
        request.state.user_id = req.user_id
        request_id = request.state.request_id
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
        body["request_id"] = request_id
        body["arm"] = arm
        experiment = state.experiment if arm is not None else None
        if experiment is not None:
            experiment.served(arm, request_id)
            request.state.arm = arm
        items = [i["item_id"] for i in body["items"]]
        metrics.impressions.labels(arm or "").inc(len(items))
        if state.store is not None:  # queued: the writer thread commits it off this path
            name = experiment.spec.name if experiment is not None else None
            state.store.log_served(
                {"request_id": request_id, "ts": time.time(), "user_id": req.user_id, "experiment": name,
                 "arm": arm, "bundle": service.version, "strategy": body["strategy"], "k": req.k,
                 "items": items, "n": len(items)})
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
        k = check_k(k, "query")
        return answer(request, RecommendRequest(user_id=user_id, k=k, request_id=request.state.request_id))

    @app.get("/items/{item_id}/similar", response_model=s.SimilarResponse, tags=["recommend"],
             responses={404: {"model": s.Problem}, 422: {"model": s.Problem}, 503: {"model": s.Problem}})
    async def similar(request: Request, item_id: Annotated[str, s.StringConstraints(max_length=256)],
                      k: Annotated[int | None, Query(ge=1)] = None,
                      method: Annotated[s.Literal["collaborative", "content"], Query()] = "collaborative") -> Response:
        """Products like this one: by the model's own item similarity, or by text and attributes."""
        k = check_k(k, "query")
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
        attributed = [state.attribute(e) for e in events]
        if url is not None:
            open_store()
            if state.store is None:
                raise Unavailable(store_error[0] if store_error else "event store unavailable")
            rows = rows_from_feedback(events, service.version, attributed)
            try:
                await state.store.write(rows)  # a 2xx means committed
            except StoreUnavailable as exc:
                raise Unavailable(str(exc)) from None
            stored = True
        unknown = 0
        experiment = state.experiment
        for event, (name, arm) in zip(events, attributed):
            if service.item_index(event.item_id) < 0:
                unknown += 1
            if state.live.add(event.user_id, event.item_id, event.event):
                state.cache.invalidate(event.user_id, service.version)
            metrics.feedback.labels(event.event).inc()
            if arm is not None and experiment is not None:
                experiment.reward(arm, event.request_id, event.event)
            label = arm or ""
            if event.event == "click":
                metrics.clicks.labels(label).inc()
            elif event.event == "purchase":
                metrics.purchases.labels(label).inc()
                metrics.revenue.labels(label).inc((event.price or 0.0) * event.quantity)
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

    def unauthorised() -> Response:  # the Guard answers first; this stands if it is ever bypassed
        return Response(orjson.dumps({"detail": UNAUTHORISED}), status_code=401, media_type="application/json",
                        headers={"WWW-Authenticate": "Bearer"})

    def authorised(request: Request) -> bool:
        return admin_authorised(request.headers.get("authorization", ""), serve.admin_token)

    @app.post("/admin/reload", tags=["admin"], responses={401: {"model": s.Problem}, 409: {"model": s.Problem},
                                                          422: {"model": s.Problem}})
    async def reload(request: Request, body: Annotated[s.ReloadBody | None, Body()] = None) -> Response:
        """Load and verify a bundle (default: the one served), then swap it in; a bad one is refused."""
        if not authorised(request):
            return unauthorised()
        given = body.bundle if body is not None and body.bundle else None
        if not state.reload_lock.acquire(blocking=False):
            return _problem(409, "a reload is already running")
        try:
            started = time.perf_counter()
            try:  # a named bundle: relative to paths.root and inside it; loaded only once its manifest verifies
                path = within(Path(cfg.paths.root), given, "body.bundle") if given else (state.bundle_path or
                                                                                         cfg.bundle_path)
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

    # ------------------------------------------------------------------ experiments (admin)

    def need_store() -> EventStore:
        open_store()
        if state.store is None:
            raise Unavailable(store_error[0] if store_error else "experiments need the event store (serve.events)")
        return state.store

    def find(name: str) -> dict[str, Any] | None:
        return next((r for r in need_store().experiments() if r["name"] == name), None)

    @app.get("/admin/experiments", tags=["admin"], responses={401: {"model": s.Problem}})
    async def list_experiments(request: Request) -> Response:
        """Every experiment with its status; the running one with its live counts per arm."""
        if not authorised(request):
            return unauthorised()
        rows = need_store().experiments()
        running = state.experiment.snapshot() if state.experiment is not None else None
        return _json({"experiments": rows, "running": running})

    @app.post("/admin/experiments", tags=["admin"], status_code=201,
              responses={401: {"model": s.Problem}, 409: {"model": s.Problem}, 422: {"model": s.Problem}})
    async def create_experiment(request: Request, body: s.ExperimentBody) -> Response:
        """A draft experiment: arms (bundles, weights, serve settings), allocation and reward."""
        if not authorised(request):
            return unauthorised()
        try:
            spec = ExperimentSpec.from_dict(body.model_dump())
        except RecsysError as exc:
            return _problem(422, str(exc).splitlines()[0])
        if find(spec.name) is not None:
            return _problem(409, f"experiment {spec.name!r} exists")
        need_store().save_experiment(spec.name, "draft", spec.to_dict())
        return _json({"name": spec.name, "status": "draft"}, 201)

    @app.post("/admin/experiments/{name}/{action}", tags=["admin"],
              responses={401: {"model": s.Problem}, 404: {"model": s.Problem}, 409: {"model": s.Problem},
                         422: {"model": s.Problem}})
    async def experiment_action(request: Request, name: str, action: s.Literal["start", "stop", "promote"],
                                body: Annotated[s.PromoteBody | None, Body()] = None) -> Response:
        """Lifecycle: draft -> start -> stop -> promote (the winner's bundle becomes the default)."""
        if not authorised(request):
            return unauthorised()
        row = find(name)
        if row is None:
            return _problem(404, f"no experiment {name!r}")
        spec = ExperimentSpec.from_dict(row["spec"])
        store = need_store()
        allowed = {"start": ("draft",), "stop": ("running",), "promote": ("stopped", "running")}[action]
        if row["status"] not in allowed:
            return _problem(409, f"experiment {name!r} is {row['status']}; {action} needs {' or '.join(allowed)}")
        if action == "start":
            if state.experiment is not None and state.experiment.status == "running":
                return _problem(409, f"experiment {state.experiment.spec.name!r} is running; stop it first")
            try:
                await asyncio.to_thread(state.start_experiment, spec)
            except RecsysError as exc:
                return _problem(422, str(exc).splitlines()[0])
            store.save_experiment(name, "running", spec.to_dict(), started=time.time())
            return _json({"name": name, "status": "running"})
        if action == "stop":
            if state.experiment is not None and state.experiment.spec.name == name:
                state.experiment.status = "stopped"
            store.save_experiment(name, "stopped", spec.to_dict(), stopped=time.time())
            return _json({"name": name, "status": "stopped"})
        running = state.experiment if state.experiment is not None and state.experiment.spec.name == name else None
        winner = body.arm if body is not None and body.arm else None
        if winner is None:
            if running is None:
                return _problem(422, "promote: name the winning arm ({\"arm\": ...})")
            winner = running.leader()
        arm = next((a for a in spec.arms if a.name == winner), None)
        if arm is None:
            return _problem(422, f"promote: no arm {winner!r} in {name!r}")
        try:
            service = state.arms.get(winner) if running is not None else None
            service = service or await asyncio.to_thread(state.load, state.arm_path(arm))
        except RecsysError as exc:
            return _problem(422, str(exc).splitlines()[0])
        state.swap(service, state.arm_path(arm))
        state.cache.clear()
        if running is not None:
            running.status = "promoted"
        state.experiment = None
        store.save_experiment(name, "promoted", spec.to_dict(), stopped=row["stopped"] or time.time(), winner=winner)
        return _json({"name": name, "status": "promoted", "winner": winner, "bundle": service.version})

    app.openapi = _documented(app)  # the Guard's own answers (413, 401, 503 + Retry-After) in /openapi.json
    app.add_middleware(Guard, metrics=metrics, max_body=serve.max_body_bytes, log_requests=serve.log_requests,
                       admin_token=serve.admin_token, max_in_flight=serve.max_in_flight, max_queue_ms=serve.max_queue_ms)
    return app


def _documented(app: FastAPI):  # noqa: ANN202
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document(generate())
        return app.openapi_schema

    return openapi


def spec_from_config(cfg: Config) -> ExperimentSpec:
    """The experiment of ``ab=...`` (conf/ab/) as an ExperimentSpec."""
    ab = cfg.ab
    return ExperimentSpec(
        name=str(ab.name), allocation=ab.allocation, reward=ab.reward, salt=ab.salt,
        arms=[ArmSpec(name=a.name, bundle=a.bundle, weight=a.weight, serve=dict(a.serve)) for a in ab.arms],
    )


def _version() -> str:
    from recsys_cli import __version__

    return __version__
