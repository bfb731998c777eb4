"""The event store: every served list (its impressions) and every feedback event, durable.

SQLite in WAL mode in the project by default (``serve.events=sqlite``:
``<data>/events/events.db``), PostgreSQL by URL (``serve.events=postgresql://...``),
through SQLAlchemy Core. The schema is created and migrated by the project
(``schema_version``), with indexes for the report queries.

A served list is one row of ``served``: request id, time, shopper, experiment,
arm, bundle, strategy and the items shown in position order (``items``, a
JSON array; ``n`` of them): its impressions, at one row per list rather than
one per item. Feedback events (including impressions a client posts itself)
are rows of ``events``.

Writes go through one writer thread that groups them into small transactions
(executemany on the driver's own connection):

- ``log_served`` (the ``/recommend`` path) only appends to an in-memory queue
  and returns: impressions never wait for the disk;
- ``write`` (the ``/feedback`` path) appends and *awaits the commit* of the
  transaction holding its events: a 2xx means committed (SQLite
  ``synchronous=FULL``; PostgreSQL commits are durable). When the store is
  unreachable (file locked, server stopped) the wait ends with
  :class:`StoreUnavailable` (a 503) and the writer retries on the next batch,
  so the service recovers without a restart when the store comes back.
"""

from __future__ import annotations

import asyncio
import json
import queue
import threading
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 2
FEEDBACK_TIMEOUT = 5.0  # seconds /feedback waits for its commit before answering 503
MAX_PENDING_IMPRESSIONS = 200_000  # served-list rows kept in memory while the store is down (oldest dropped)
BATCH = 2000  # rows per transaction at most


EVENT_COLUMNS = ("ts", "user_id", "item_id", "event", "price", "quantity", "position", "request_id", "experiment",
                 "arm", "bundle")
SERVED_COLUMNS = ("request_id", "ts", "user_id", "experiment", "arm", "bundle", "strategy", "k", "items", "n")


class StoreUnavailable(Exception):
    """The store cannot commit right now (locked, stopped, unreachable)."""


def store_url(spec: str, data_dir: Path) -> str | None:
    """``serve.events`` -> an SQLAlchemy URL (None when off)."""
    if spec in ("none", "off", ""):
        return None
    if spec == "sqlite":
        path = data_dir / "events" / "events.db"
        return f"sqlite:///{path.resolve()}"
    if spec.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + spec.split("://", 1)[1]
    return spec


def _ddl(dialect: str) -> list[str]:
    serial = "BIGSERIAL PRIMARY KEY" if dialect == "postgresql" else "INTEGER PRIMARY KEY AUTOINCREMENT"
    real = "DOUBLE PRECISION" if dialect == "postgresql" else "REAL"
    return [
        f"""CREATE TABLE IF NOT EXISTS events (
            id {serial}, ts {real} NOT NULL, user_id TEXT NOT NULL, item_id TEXT NOT NULL, event TEXT NOT NULL,
            price {real}, quantity INTEGER NOT NULL DEFAULT 1, position INTEGER, request_id TEXT,
            experiment TEXT, arm TEXT, bundle TEXT)""",
        "CREATE INDEX IF NOT EXISTS ix_events_experiment ON events (experiment, arm, event)",
        "CREATE INDEX IF NOT EXISTS ix_events_user_ts ON events (user_id, ts)",
        "CREATE INDEX IF NOT EXISTS ix_events_request ON events (request_id)",
        "CREATE INDEX IF NOT EXISTS ix_events_ts ON events (ts)",
        f"""CREATE TABLE IF NOT EXISTS served (
            request_id TEXT PRIMARY KEY, ts {real} NOT NULL, user_id TEXT NOT NULL, experiment TEXT, arm TEXT,
            bundle TEXT, strategy TEXT, k INTEGER)""",
        "CREATE INDEX IF NOT EXISTS ix_served_experiment ON served (experiment, arm, ts)",
        f"""CREATE TABLE IF NOT EXISTS experiments (
            name TEXT PRIMARY KEY, status TEXT NOT NULL, spec TEXT NOT NULL, created {real} NOT NULL,
            started {real}, stopped {real}, winner TEXT)""",
    ]


# version -> statements that bring version-1 to it (after v1)
MIGRATIONS: dict[int, list[str]] = {
    2: ["ALTER TABLE served ADD COLUMN items TEXT", "ALTER TABLE served ADD COLUMN n INTEGER"],
}


@dataclass
class _Job:
    events: list[dict[str, Any]]
    served: list[dict[str, Any]] = field(default_factory=list)
    done: Future | None = None  # set for feedback: resolved when committed


class EventStore:
    """Durable events behind a group-committing writer thread."""

    def __init__(self, url: str) -> None:
        from sqlalchemy import create_engine, event

        self.url = url
        self.dialect = "postgresql" if url.startswith("postgresql") else "sqlite"
        if self.dialect == "sqlite":
            path = Path(url.split("sqlite:///", 1)[1])
            path.parent.mkdir(parents=True, exist_ok=True)
            self.engine = create_engine(url, connect_args={"timeout": 1.0, "check_same_thread": False},
                                        pool_pre_ping=True)

            @event.listens_for(self.engine, "connect")
            def _pragmas(conn: Any, _: Any) -> None:
                cur = conn.cursor()
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=FULL")
                cur.execute("PRAGMA busy_timeout=1000")
                cur.close()
        else:
            self.engine = create_engine(url, pool_pre_ping=True, pool_size=4, max_overflow=4,
                                        connect_args={"connect_timeout": 3})
        self.migrate()
        self._queue: queue.Queue[_Job | None] = queue.Queue()
        self._pending: list[_Job] = []  # impressions waiting for a store that was down
        self.dropped = 0
        self.last_error: str | None = None
        self._thread = threading.Thread(target=self._run, name="recsys-event-writer", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ schema
    def migrate(self) -> None:
        from sqlalchemy import text

        with self.engine.begin() as conn:
            conn.execute(text("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"))
            row = conn.execute(text("SELECT MAX(version) FROM schema_version")).scalar()
            current = int(row) if row is not None else 0
            if current > SCHEMA_VERSION:
                raise RuntimeError(f"{self.url}: event store schema v{current} is newer than this recsys "
                                   f"(v{SCHEMA_VERSION}); upgrade recsys")
            if current < 1:
                for stmt in _ddl(self.dialect):
                    conn.execute(text(stmt))
                conn.execute(text("INSERT INTO schema_version (version) VALUES (1)"))
                current = 1
            for version in range(current + 1, SCHEMA_VERSION + 1):
                for stmt in MIGRATIONS.get(version, []):
                    conn.execute(text(stmt))
                conn.execute(text("INSERT INTO schema_version (version) VALUES (:v)"), {"v": version})

    # ------------------------------------------------------------------ writing
    def log_served(self, served: dict[str, Any]) -> None:
        """A served list (with its items in position order): queued, written by the writer thread (never waits)."""
        self._queue.put(_Job(events=[], served=[served]))

    def submit(self, events: list[dict[str, Any]]) -> Future:
        """Queue feedback events; the future resolves once they are committed (or fails)."""
        done: Future = Future()
        self._queue.put(_Job(events=events, done=done))
        return done

    async def write(self, events: list[dict[str, Any]]) -> None:
        """Commit feedback events; raises StoreUnavailable if that cannot happen in time."""
        future = self.submit(events)
        try:
            await asyncio.wait_for(asyncio.wrap_future(future), FEEDBACK_TIMEOUT)
        except asyncio.TimeoutError:
            raise StoreUnavailable(f"the event store did not commit within {FEEDBACK_TIMEOUT:g}s") from None

    def _run(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                self._flush(self._drain([]), final=True)
                return
            jobs = self._drain([job])
            self._flush(jobs)

    def _drain(self, jobs: list[_Job]) -> list[_Job]:
        """Take what else is queued (up to BATCH rows) into the same transaction."""
        rows = sum(len(j.events) + len(j.served) for j in jobs)
        while rows < BATCH:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            if job is None:
                self._queue.put(None)
                break
            jobs.append(job)
            rows += len(job.events) + len(job.served)
        return jobs

    def _flush(self, jobs: list[_Job], final: bool = False) -> None:
        batch = self._pending + jobs
        if not batch:
            return
        events = [tuple(e[c] for c in EVENT_COLUMNS) for j in batch for e in j.events]
        served = [tuple(json.dumps(s[c]) if c == "items" else s[c] for c in SERVED_COLUMNS)
                  for j in batch for s in j.served]
        mark = "%s" if self.dialect == "postgresql" else "?"
        try:
            with self.engine.begin() as conn:  # executemany on the driver's cursor: no per-row Python work
                if events:
                    conn.exec_driver_sql(
                        f"INSERT INTO events ({', '.join(EVENT_COLUMNS)}) VALUES ({', '.join([mark] * len(EVENT_COLUMNS))})",
                        events)
                if served:
                    conn.exec_driver_sql(
                        f"INSERT INTO served ({', '.join(SERVED_COLUMNS)}) VALUES "
                        f"({', '.join([mark] * len(SERVED_COLUMNS))}) ON CONFLICT (request_id) DO NOTHING", served)
        except Exception as exc:  # noqa: BLE001 - the store is down: fail feedback, keep impressions
            self.last_error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:300]
            for job in batch:
                if job.done is not None and not job.done.done():
                    job.done.set_exception(StoreUnavailable(f"event store unavailable ({self.last_error})"))
            keep = [j for j in batch if j.done is None]
            size = sum(len(j.events) + len(j.served) for j in keep)
            while keep and size > MAX_PENDING_IMPRESSIONS:
                old = keep.pop(0)
                size -= len(old.events) + len(old.served)
                self.dropped += len(old.events) + len(old.served)
            self._pending = keep
            if not final:
                time.sleep(0.05)  # do not spin against a dead store
            return
        self._pending = []
        self.last_error = None
        for job in batch:
            if job.done is not None and not job.done.done():
                job.done.set_result(len(job.events))

    def flush(self, timeout: float = 10.0) -> None:
        """Wait until everything queued so far is committed (tests, shutdown)."""
        self.submit([]).result(timeout)

    async def close(self) -> None:
        self._queue.put(None)
        await asyncio.to_thread(self._thread.join, 10.0)
        self.engine.dispose()

    def close_sync(self) -> None:
        self._queue.put(None)
        self._thread.join(10.0)
        self.engine.dispose()

    # ------------------------------------------------------------------ reading
    def query(self, sql: str, **params: Any) -> list[dict[str, Any]]:
        from sqlalchemy import text

        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(text(sql), params)]

    def count(self, where: str = "", **params: Any) -> int:
        rows = self.query(f"SELECT COUNT(*) AS n FROM events {where}", **params)
        return int(rows[0]["n"])

    # ------------------------------------------------------------------ experiments
    def save_experiment(self, name: str, status: str, spec: dict[str, Any], **times: Any) -> None:
        from sqlalchemy import text

        now = time.time()
        with self.engine.begin() as conn:
            exists = conn.execute(text("SELECT 1 FROM experiments WHERE name = :n"), {"n": name}).first()
            if exists is None:
                conn.execute(text("INSERT INTO experiments (name, status, spec, created) VALUES (:n, :s, :spec, :c)"),
                             {"n": name, "s": status, "spec": json.dumps(spec), "c": now})
            else:
                conn.execute(text("UPDATE experiments SET status = :s, spec = :spec WHERE name = :n"),
                             {"n": name, "s": status, "spec": json.dumps(spec)})
            for key, value in times.items():
                if key in ("started", "stopped", "winner"):
                    conn.execute(text(f"UPDATE experiments SET {key} = :v WHERE name = :n"), {"n": name, "v": value})

    def experiments(self) -> list[dict[str, Any]]:
        rows = self.query("SELECT name, status, spec, created, started, stopped, winner FROM experiments "
                          "ORDER BY created")
        for r in rows:
            r["spec"] = json.loads(r["spec"])
        return rows

    def arm_counts(self, experiment: str, reward: str) -> dict[str, tuple[int, int]]:
        """Per arm: served lists (trials) and lists with at least one ``reward`` event (successes)."""
        trials = {r["arm"]: int(r["n"]) for r in self.query(
            "SELECT arm, COUNT(*) AS n FROM served WHERE experiment = :e GROUP BY arm", e=experiment)}
        wins = {r["arm"]: int(r["n"]) for r in self.query(
            "SELECT arm, COUNT(DISTINCT request_id) AS n FROM events WHERE experiment = :e AND event = :r "
            "AND request_id IS NOT NULL GROUP BY arm", e=experiment, r=reward)}
        return {arm: (n, wins.get(arm, 0)) for arm, n in trials.items()}


def rows_from_feedback(events: Iterable[Any], bundle: str,
                       attributed: Sequence[tuple[str | None, str | None]]) -> list[dict[str, Any]]:
    """Store rows of validated /feedback events, each with its (experiment, arm)."""
    now = time.time()
    out = []
    for e, (experiment, arm) in zip(events, attributed, strict=True):
        out.append({"ts": e.timestamp if e.timestamp is not None else now, "user_id": e.user_id,
                    "item_id": e.item_id, "event": e.event, "price": e.price, "quantity": e.quantity,
                    "position": e.position, "request_id": e.request_id, "experiment": experiment, "arm": arm,
                    "bundle": bundle})
    return out


