"""Allocation rules of online experiments, checked against their textbook definitions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from recsys_cli.errors import ConfigError
from recsys_cli.serve.experiments import ArmSpec, Experiment, ExperimentSpec


def spec(allocation: str, weights=(1.0, 1.0, 1.0)) -> ExperimentSpec:  # noqa: ANN001
    return ExperimentSpec(name="t", allocation=allocation,  # type: ignore[arg-type]
                          arms=[ArmSpec(name=n, weight=w) for n, w in zip("abc", weights)])


def test_ucb1_tries_every_arm_then_follows_mean_plus_bonus() -> None:
    exp = Experiment(spec("ucb1"))
    first = []
    for i in range(3):
        arm = exp.assign("anyone")
        first.append(arm)
        exp.served(arm, f"r{i}")
    assert first == ["a", "b", "c"]
    exp.load_counts({"a": (100, 10), "b": (40, 6), "c": (10, 0)})
    n = 150
    ucb = {a: s / t + math.sqrt(2 * math.log(n) / t) for a, (t, s) in {"a": (100, 10), "b": (40, 6), "c": (10, 0)}.items()}
    assert exp.assign("anyone") == max(ucb, key=ucb.get)


def test_thompson_picks_arms_as_often_as_their_posterior_is_best() -> None:
    exp = Experiment(spec("thompson"), seed=3)
    exp.load_counts({"a": (200, 20), "b": (200, 26), "c": (200, 14)})
    picks = [exp.assign("x") for _ in range(4000)]
    rng = np.random.default_rng(9)  # the same posteriors sampled independently
    draws = np.stack([rng.beta(1 + s, 1 + t - s, 100_000) for t, s in ((200, 20), (200, 26), (200, 14))])
    expected = np.bincount(draws.argmax(axis=0), minlength=3) / draws.shape[1]
    observed = np.array([picks.count(a) for a in "abc"]) / len(picks)
    np.testing.assert_allclose(observed, expected, atol=0.03)


def test_rewards_count_once_per_list_and_only_the_configured_event() -> None:
    exp = Experiment(spec("thompson"))
    exp.served("a", "r1")
    assert exp.arm_of("r1") == "a"
    assert exp.reward("a", "r1", "click") and not exp.reward("a", "r1", "click")  # the second click: same list
    assert not exp.reward("a", "r2", "purchase")  # reward is click
    assert exp.snapshot()["arms"][0] == {"name": "a", "trials": 1, "successes": 1, "rate": 1.0}


def test_hashed_split_is_stable_salted_and_weighted() -> None:
    exp = Experiment(spec("hashed", (1.0, 2.0, 1.0)))
    users = [f"u{i}" for i in range(20_000)]
    arms = [exp.hashed(u) for u in users]
    assert arms == [exp.hashed(u) for u in users]
    share = np.array([arms.count(a) for a in "abc"]) / len(users)
    np.testing.assert_allclose(share, [0.25, 0.5, 0.25], atol=4 * math.sqrt(0.25 / len(users)))
    other = Experiment(ExperimentSpec(name="t2", arms=[ArmSpec("a"), ArmSpec("b"), ArmSpec("c")]))
    agree = np.mean([exp.hashed(u) == other.hashed(u) for u in users[:5000]])
    assert agree < 0.5  # another experiment's salt splits independently


@pytest.mark.parametrize("bad,message", [
    (dict(name="x", arms=[ArmSpec("a")]), "at least two arms"),
    (dict(name="x", arms=[ArmSpec("a"), ArmSpec("a")]), "unique"),
    (dict(name="no spaces", arms=[ArmSpec("a"), ArmSpec("b")]), "name must be"),
    (dict(name="x", arms=[ArmSpec("a", weight=0), ArmSpec("b")]), "weight"),
])
def test_bad_experiment_specs_are_refused(bad: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        ExperimentSpec(**bad)
