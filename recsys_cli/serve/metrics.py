"""Prometheus metrics of the server (prometheus-client), one registry per app.

With several workers (``serve.workers>1``) each process writes its samples to
``PROMETHEUS_MULTIPROC_DIR`` and ``/metrics`` aggregates them (the library's
multiprocess mode), so a scrape sees the whole server whichever worker answers.
"""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import CONTENT_TYPE_LATEST  # noqa: F401 - re-exported for the route

BUCKETS = (0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.02, 0.03, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Metrics:
    def __init__(self) -> None:
        self.multiprocess = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
        self.registry = CollectorRegistry(auto_describe=True)
        registry = None if self.multiprocess else self.registry
        kw = {"registry": registry} if registry is not None else {}
        self.requests = Counter("recsys_requests_total", "HTTP requests by endpoint, strategy and status",
                                ["endpoint", "strategy", "status"], **kw)
        self.latency = Histogram("recsys_request_seconds", "Request latency by endpoint and strategy",
                                 ["endpoint", "strategy"], buckets=BUCKETS, **kw)
        self.cache = Counter("recsys_cache_requests_total", "Response cache lookups by result", ["result"], **kw)
        self.feedback = Counter("recsys_feedback_events_total", "Feedback events accepted, by type", ["event"], **kw)
        self.reloads = Counter("recsys_reloads_total", "Bundle reloads by result", ["result"], **kw)
        self.shed = Counter("recsys_shed_requests_total", "Requests answered 503 by load shedding, by reason",
                            ["reason"], **kw)
        gauge_kw = {**kw, "multiprocess_mode": "liveall"} if self.multiprocess else kw
        self.bundle = Gauge("recsys_bundle_info", "The bundle being served (value 1)", ["version", "model"],
                            **gauge_kw)
        self.ready = Gauge("recsys_ready", "1 when a verified bundle is loaded", **gauge_kw)
        # online experiments (by arm): what the shoppers were shown and did
        self.impressions = Counter("recsys_impressions_total", "Items shown, by experiment arm", ["arm"], **kw)
        self.clicks = Counter("recsys_clicks_total", "Clicks, by experiment arm", ["arm"], **kw)
        self.purchases = Counter("recsys_purchases_total", "Purchases, by experiment arm", ["arm"], **kw)
        self.revenue = Counter("recsys_revenue_total", "Revenue, by experiment arm", ["arm"], **kw)
        self._bundle_labels: tuple[str, str] | None = None

    def set_bundle(self, version: str, model: str) -> None:
        if self._bundle_labels is not None:
            try:
                self.bundle.remove(*self._bundle_labels)
            except KeyError:
                pass
        self.bundle.labels(version, model).set(1)
        self._bundle_labels = (version, model)
        self.ready.set(1)

    def render(self) -> bytes:
        if self.multiprocess:
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry)
        return generate_latest(self.registry)

    def cache_hit_rate(self) -> float:
        hits = misses = 0.0
        for metric in self.cache.collect():
            for sample in metric.samples:
                if sample.name.endswith("_total"):
                    if sample.labels.get("result") == "hit":
                        hits = sample.value
                    elif sample.labels.get("result") == "miss":
                        misses = sample.value
        return hits / (hits + misses) if hits + misses else 0.0
