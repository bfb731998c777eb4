"""tune: an Optuna study over the model's search space, scored on the valid window.

Each trial fits on train and ranks for users with train history against
their valid-window items; the test window is never read (the leakage guard
checks the fit window first). The study is stored under data/tune/ and a rerun
of the same objective resumes it; the winner goes to data/tune/best_params.json
for ``train``, every trial to trials.json, plots to reports/tune/. The work is
in :mod:`recsys_cli.tuning`.

A hybrid with ``tune.components`` is tuned component by component instead
(:mod:`recsys_cli.tuning.components`): one study per named component, the
winners written as the hybrid's tuned ``components``, plots per component
under reports/tune/components/<index>-<name>/.
"""

from __future__ import annotations

import time
from pathlib import Path

from recsys_cli import tuning
from recsys_cli.config import Config, fingerprint
from recsys_cli.errors import StageInputError
from recsys_cli.progress import status
from recsys_cli.stages.inputs import train_data
from recsys_cli.tuning import components, plots, results
from recsys_cli.tuning.storage import storage_path
from recsys_cli.tuning.objective import metric_cutoff, valid_users


def run(cfg: Config) -> None:
    space = cfg.tune.space
    out, reports = cfg.paths.tune, cfg.paths.reports_dir / "tune"
    if cfg.model.name == "hybrid" and cfg.tune.components:
        run_components(cfg, out, reports)
        return
    if not space or cfg.tune.trials == 0:
        reason = "no search space for this model" if not space else "tune.trials=0"
        note = {"model": cfg.model.name, "params": {}, "note": reason, "config_sha256": fingerprint(cfg)}
        results.write(out, note, [])
        results.write_summary(reports, note)
        storage_path(cfg.tune, out).touch(exist_ok=True)  # the stage's outputs always exist (DVC)
        status(f"tune: nothing to tune for {cfg.model.name} ({reason}) -> {out / results.BEST_PARAMS}")
        return
    metric_cutoff(cfg.tune.metric)
    clock = {"started": time.perf_counter()}
    data = train_data(cfg, stage="tune")
    if data.valid is None or not valid_users(data).size:
        raise StageInputError("tune: the valid window is empty; use a split with valid_frac > 0 (or n_valid > 0)")
    clock["loaded"] = time.perf_counter()
    warm_up = plots.prepare() if cfg.tune.plots else None
    study, resumed = tuning.tune(cfg, data, out)
    clock["tuned"] = time.perf_counter()
    drawn = plots.save(study, reports, cfg.tune.seed, cfg.tune.metric, warm_up) if cfg.tune.plots else {}
    clock["plotted"] = time.perf_counter()
    best = results.summary(study, cfg.model.name, cfg.tune.metric)
    best.update(
        valid_users=int(valid_users(data).size), resumed_from=resumed,
        seconds={"load": clock["loaded"] - clock["started"], "study": clock["tuned"] - clock["loaded"],
                 "plots": clock["plotted"] - clock["tuned"]},
    )
    best["seconds"] = {k: round(v, 3) for k, v in best["seconds"].items()}
    best["config_sha256"] = fingerprint(cfg)  # the config this study's winner was found under
    results.write(out, best, results.trial_rows(study))
    results.write_summary(reports, {**best, "plots": drawn})
    if best["value"] is None:
        status(f"tune: no trial of {cfg.model.name} completed; train keeps the configured params")
        return
    gain = f" (default {best['default_value']:.4f})" if best.get("default_value") is not None else ""
    status(
        f"tune: best {cfg.tune.metric} {best['value']:.4f}{gain} on valid after {best['trials']} trials "
        f"({best['pruned']} pruned) with {best['params']} -> {out / results.BEST_PARAMS}; report in {reports}"
    )


def run_components(cfg: Config, out: Path, reports: Path) -> None:
    """The hybrid's components, each in its own study; best_params.json holds the tuned components."""
    planned = components.plan(cfg)
    if not planned:
        note = {"model": cfg.model.name, "params": {}, "note": "no component with a search space and trials > 0",
                "config_sha256": fingerprint(cfg)}
        results.write(out, note, [])
        results.write_summary(reports, note)
        storage_path(cfg.tune, out).touch(exist_ok=True)
        status(f"tune: nothing to tune for {cfg.model.name} ({note['note']}) -> {out / results.BEST_PARAMS}")
        return
    metric_cutoff(cfg.tune.metric)
    data = train_data(cfg, stage="tune")
    if data.valid is None or not valid_users(data).size:
        raise StageInputError("tune: the valid window is empty; use a split with valid_frac > 0 (or n_valid > 0)")
    warm_up = plots.prepare() if cfg.tune.plots else None
    started = time.perf_counter()
    done = components.run(cfg, data, out)
    study_seconds = time.perf_counter() - started
    best, rows = components.summary(cfg, done)
    for entry, (study_plan, study, _) in zip(best["components"], done, strict=True):
        if cfg.tune.plots:
            entry["plots"] = plots.save(study, reports / "components" / f"{study_plan.index}-{study_plan.cfg.model.name}",
                                        cfg.tune.seed, cfg.tune.metric, warm_up)
        value = "no trial completed" if entry["value"] is None else f"{entry['value']:.4f}"
        default = f" (configured {entry['default_value']:.4f})" if entry.get("default_value") is not None else ""
        status(f"tune: component {study_plan.index} {study_plan.cfg.model.name}: best {cfg.tune.metric} {value}{default} "
               f"after {entry['trials']} trials with {entry['params']}")
    best.update(valid_users=int(valid_users(data).size), seconds={"study": round(study_seconds, 3)},
                config_sha256=fingerprint(cfg))
    results.write(out, best, rows)
    results.write_summary(reports, best)
    status(f"tune: {len(done)} hybrid components tuned on valid -> {out / results.BEST_PARAMS}; "
           "train learns the blend weights")
