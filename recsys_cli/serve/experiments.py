"""Online experiments: arms, allocation (hashed splits, Thompson sampling, UCB1), lifecycle.

An experiment has arms — each a bundle (default: the one served) with
optional serve settings — and an allocation:

- ``hashed``: sticky; ``sha256(salt + user_id)`` picks an arm in proportion
  to the weights, so a shopper always sees the same arm (salted per
  experiment, so two experiments split independently);
- ``thompson``: per request, a draw from each arm's Beta(1 + successes,
  1 + failures) posterior; the highest draw serves (Beta-Bernoulli);
- ``ucb1``: per request, the arm with the highest mean + sqrt(2 ln N / n),
  every arm tried once first.

A trial is a served list; a success is a list that got at least one
``reward`` event (``click`` or ``purchase``, i.e. conversion), matched by the
list's request id. Lifecycle: draft -> running -> stopped -> promoted (the
winner's bundle becomes the default). Definitions and status live in the
event store, and the bandits' counts are re-read from it at start, so
everything survives a restart.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from recsys_cli.errors import ConfigError

Allocation = Literal["hashed", "thompson", "ucb1"]
Reward = Literal["click", "purchase"]
STATUSES = ("draft", "running", "stopped", "promoted")


@dataclass
class ArmSpec:
    name: str
    bundle: str | None = None  # None: the bundle the server was started with
    weight: float = 1.0
    serve: dict[str, Any] = field(default_factory=dict)  # serve.* overrides for this arm (e.g. new_items.boost)


@dataclass
class ExperimentSpec:
    name: str
    arms: list[ArmSpec]
    allocation: Allocation = "hashed"
    reward: Reward = "click"
    salt: str | None = None  # default: the experiment's name

    def __post_init__(self) -> None:
        where = f"experiment {self.name!r}"
        if not self.name or len(self.name) > 64 or not all(c.isalnum() or c in "-_." for c in self.name):
            raise ConfigError(f"{where}: name must be 1-64 letters, digits, '-', '_' or '.'")
        if len(self.arms) < 2:
            raise ConfigError(f"{where}.arms: an experiment needs at least two arms")
        names = [a.name for a in self.arms]
        if len(set(names)) != len(names):
            raise ConfigError(f"{where}.arms: arm names must be unique, got {names}")
        for i, arm in enumerate(self.arms):
            if not arm.name or len(arm.name) > 64:
                raise ConfigError(f"{where}.arms[{i}].name: 1-64 characters")
            if not (arm.weight > 0):
                raise ConfigError(f"{where}.arms[{i}].weight: must be > 0")

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ExperimentSpec:
        from recsys_cli.schema import from_dict

        return from_dict(cls, raw, where="experiment")


class Experiment:
    """A running experiment's allocation state (thread-safe)."""

    def __init__(self, spec: ExperimentSpec, status: str = "draft", seed: int = 0) -> None:
        self.spec = spec
        self.status = status
        self.names = [a.name for a in spec.arms]
        weights = np.array([a.weight for a in spec.arms], dtype=np.float64)
        self._cum = np.cumsum(weights / weights.sum())
        self.trials = dict.fromkeys(self.names, 0)
        self.successes = dict.fromkeys(self.names, 0)
        self._rewarded: OrderedDict[str, None] = OrderedDict()
        self._arm_of_request: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()
        self._rng = np.random.default_rng(seed)

    # ------------------------------------------------------------------ allocation
    def hashed(self, user_id: str) -> str:
        salt = self.spec.salt or self.spec.name
        h = int.from_bytes(hashlib.sha256(f"{salt}\x00{user_id}".encode()).digest()[:8], "big") / 2.0**64
        return self.names[int(np.searchsorted(self._cum, h, side="right").clip(0, len(self.names) - 1))]

    def assign(self, user_id: str) -> str:
        if self.spec.allocation == "hashed":
            return self.hashed(user_id)
        with self._lock:
            n = np.array([self.trials[a] for a in self.names], dtype=np.float64)
            s = np.array([self.successes[a] for a in self.names], dtype=np.float64)
            if self.spec.allocation == "thompson":
                draws = self._rng.beta(1.0 + s, 1.0 + np.maximum(n - s, 0.0))
                return self.names[int(np.argmax(draws))]
            untried = np.flatnonzero(n == 0)
            if untried.size:
                return self.names[int(untried[0])]
            ucb = s / n + np.sqrt(2.0 * np.log(n.sum()) / n)
            return self.names[int(np.argmax(ucb))]

    # ------------------------------------------------------------------ feedback
    def served(self, arm: str, request_id: str) -> None:
        with self._lock:
            self.trials[arm] = self.trials.get(arm, 0) + 1
            self._arm_of_request[request_id] = arm
            while len(self._arm_of_request) > 200_000:
                self._arm_of_request.popitem(last=False)

    def arm_of(self, request_id: str | None) -> str | None:
        if request_id is None:
            return None
        return self._arm_of_request.get(request_id)

    def reward(self, arm: str, request_id: str | None, event: str) -> bool:
        """Count a success for the list ``request_id`` on its first ``reward`` event; True if counted."""
        if event != self.spec.reward or request_id is None:
            return False
        with self._lock:
            if request_id in self._rewarded:
                return False
            self._rewarded[request_id] = None
            while len(self._rewarded) > 200_000:
                self._rewarded.popitem(last=False)
            self.successes[arm] = self.successes.get(arm, 0) + 1
        return True

    def load_counts(self, counts: dict[str, tuple[int, int]]) -> None:
        """Restore the bandit's counts from the event store (after a restart)."""
        with self._lock:
            for arm, (n, s) in counts.items():
                if arm in self.trials:
                    self.trials[arm], self.successes[arm] = n, s

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {"name": self.spec.name, "status": self.status, "allocation": self.spec.allocation,
                    "reward": self.spec.reward,
                    "arms": [{"name": a, "trials": self.trials[a], "successes": self.successes[a],
                              "rate": self.successes[a] / self.trials[a] if self.trials[a] else None}
                             for a in self.names]}

    def leader(self) -> str:
        """The arm with the best posterior mean (the default winner to promote)."""
        with self._lock:
            means = [(1 + self.successes[a]) / (2 + self.trials[a]) for a in self.names]
        return self.names[int(np.argmax(means))]
