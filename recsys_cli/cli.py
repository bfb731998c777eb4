"""The ``recsys`` command: parse, compose the config, call a stage. Nothing else."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.syntax import Syntax

from recsys_cli import __version__
from recsys_cli.errors import RecsysError

app = typer.Typer(
    name="recsys",
    help=(
        "Build, evaluate and serve product recommendations.\n\n"
        "Every command takes Hydra overrides as plain arguments: "
        "[bold]group=option[/] (e.g. model=popularity, data=movielens) or "
        "[bold]key=value[/] (e.g. model.factors=128, data.scale=tiny). "
        "See the composed config with [bold]recsys config[/]."
    ),
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)

def _choices() -> str:
    """Every config group and its options, read from conf/ (as Hydra apps list them in --help)."""
    try:
        from recsys_cli.config import GROUPS, conf_dir

        root = conf_dir()
    except Exception:  # noqa: BLE001 - help must always print
        return ""
    models = {p.stem for p in (root / "model").glob("*.yaml")}
    lines = []
    for group in GROUPS:
        options = sorted(p.stem for p in (root / group).glob("*.yaml"))
        if group == "tune":  # conf/tune/<model>.yaml are search spaces chosen by the model
            options = [o for o in options if o not in models]
        if options:
            lines.append(f"[bold]{group}[/]: {', '.join(options)}")
    if not lines:
        return ""
    return "Config groups (choose with [bold]group=option[/], e.g. model=ease):\n\n" + "\n\n".join(lines)


CHOICES = _choices()
app.info.epilog = CHOICES

Overrides = Annotated[
    list[str] | None,
    typer.Argument(help="Config overrides: group=option or dotted.key=value.", show_default=False),
]
Params = Annotated[
    Path | None,
    typer.Option(
        "--params",
        help="Read the already composed config from this YAML file (what DVC runs) instead of conf/.",
        show_default=False,
    ),
]


def _fail(message: str, code: int) -> None:
    from recsys_cli.progress import console

    console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _load(overrides: list[str] | None, params: Path | None):  # noqa: ANN202
    from recsys_cli import config, models

    cfg = config.load(overrides or [], params)
    models.check_config(cfg)
    return cfg


def _guarded(work: Callable[[], None]) -> None:
    try:
        work()
    except RecsysError as exc:
        _fail(str(exc).splitlines()[0] if str(exc) else type(exc).__name__, exc.exit_code)
    except KeyboardInterrupt:
        _fail("interrupted; nothing half-written was kept", 130)
    except OSError as exc:  # the disk, not the code: a path that is a file, no permission, no space left
        where = exc.filename or "a file"
        _fail(f"{where}: {exc.strerror or exc}; nothing half-written was kept", 1)


def engine_of(cfg, name: str) -> str:  # noqa: ANN001
    """The engine a stage runs on (stages Spark does not run stay local)."""
    from recsys_cli.engines import runs_on

    return runs_on(cfg, name)


def _stages(names: list[str], overrides: list[str] | None, params: Path | None, command: str | None = None) -> None:
    """Run stages in order; with tracking on, each in an MLflow run (nested under one parent for several)."""

    def work() -> None:
        cfg = _load(overrides, params)
        from recsys_cli import tracking
        from recsys_cli.stages import PIPELINE

        from recsys_cli import stage_stats
        from recsys_cli.layout import Layout
        from recsys_cli.progress import stdout

        steps = dict(PIPELINE)
        stats: list[stage_stats.StageStat] = []
        try:
            with tracking.session(cfg, command or names[0], names):
                for name in names:
                    with tracking.stage(cfg, name), stage_stats.measure(name, engine_of(cfg, name)) as stat:
                        steps[name](cfg)
                    stats.append(stat)
        finally:
            if stats:  # what finished, also when a later stage failed
                stage_stats.record(Layout.of(cfg).stages, stats, "recsys " + " ".join([command or names[0], *(overrides or [])]),
                                   {"data.scale": cfg.data.scale, "model": cfg.model.name, "engine": cfg.engine.name})
                stdout.print(stage_stats.table(stats, f"wall time and peak memory -> {Layout.of(cfg).stages}"))

    _guarded(work)


@app.command(epilog=CHOICES)
def ingest(overrides: Overrides = None, params: Params = None) -> None:
    """Read the data source (synthetic shop, MovieLens, any CSV/Parquet log), clean it -> data/interim/."""
    _stages(["ingest"], overrides, params)


@app.command(epilog=CHOICES)
def split(overrides: Overrides = None, params: Params = None) -> None:
    """Split events into train/valid/test (global temporal or leave-last-N), flag cold users/items."""
    _stages(["split"], overrides, params)


@app.command(epilog=CHOICES)
def features(overrides: Overrides = None, params: Params = None) -> None:
    """Item popularity and TF-IDF text features from the train window only -> data/features/."""
    _stages(["features"], overrides, params)


@app.command(epilog=CHOICES)
def train(overrides: Overrides = None, params: Params = None) -> None:
    """Fit the model (model=NAME) on the train window -> data/models/NAME/."""
    _stages(["train"], overrides, params)


@app.command(epilog=CHOICES)
def tune(overrides: Overrides = None, params: Params = None) -> None:
    """Optuna study on the valid window (tune.trials=N); best params are picked up by train."""
    _stages(["tune"], overrides, params)


@app.command(epilog=CHOICES, name="eval")
def eval_(overrides: Overrides = None, params: Params = None) -> None:
    """Full-ranking metrics of the trained model on the test window -> reports/metrics.json.

    [bold]recsys eval compare A B[/] [overrides]: paired significance test between two
    trained models (data/models/A, data/models/B) on the same split.
    """
    args = list(overrides or [])
    if args[:1] != ["compare"]:
        _stages(["eval"], overrides, params)
        return
    names = [a for a in args[1:] if "=" not in a]
    if len(names) != 2:
        _fail("eval compare: give exactly two trained model names, e.g. `recsys eval compare popularity als`", 2)

    def work() -> None:
        from recsys_cli.stages import eval_compare

        cfg = _load([a for a in args[1:] if "=" in a], params)
        eval_compare.run(cfg, names[0], names[1])

    _guarded(work)


@app.command(epilog=CHOICES, name="batch-recommend")
def batch_recommend(overrides: Overrides = None, params: Params = None) -> None:
    """Top-k recommendations for every user -> data/recs/recommendations/ (partitioned Parquet)."""
    _stages(["batch-recommend"], overrides, params)


@app.command(epilog=CHOICES)
def export(overrides: Overrides = None, params: Params = None) -> None:
    """Bundle model, id maps, catalog and a checksummed manifest -> data/bundle/."""
    _stages(["export"], overrides, params)


@app.command(epilog=CHOICES)
def update(overrides: Overrides = None, params: Params = None) -> None:
    """Fold new events into the bundle without a full retrain: [bold]recsys update update.events=FILE[/].

    New users and products get appended ids; the touched users' and items' ALS factors are re-solved,
    popularity and the item-item models' history refreshed; a new bundle version is written
    (update.out, default: in place; s3:// works both ways) for POST /admin/reload.
    """

    def work() -> None:
        from recsys_cli import stage_stats
        from recsys_cli.layout import Layout
        from recsys_cli.progress import stdout
        from recsys_cli.stages import update as update_stage

        cfg = _load(overrides, params)
        with stage_stats.measure("update") as stat:
            update_stage.run(cfg)
        stage_stats.record(Layout.of(cfg).stages, [stat], "recsys update " + " ".join(overrides or []),
                           {"model": cfg.model.name})
        stdout.print(stage_stats.table([stat], f"wall time and peak memory -> {Layout.of(cfg).stages}"))

    _guarded(work)


@app.command(epilog=CHOICES)
def serve(overrides: Overrides = None, params: Params = None) -> None:
    """HTTP API over the exported bundle: [bold]recsys serve[/] [bundle=DIR] serve.port=8000 serve.workers=1.

    POST /recommend, GET /users/{id}/recommendations, GET /items/{id}/similar, POST /feedback,
    GET /health/live, /health/ready, /metrics; OpenAPI docs at /docs. Binds 127.0.0.1 unless
    serve.host says otherwise.
    """

    def work() -> None:
        from recsys_cli.serve import server

        cfg = _load(overrides, params)
        server.run(cfg)

    _guarded(work)


@app.command(epilog=CHOICES)
def tui(
    overrides: Overrides = None,
    params: Params = None,
    web: Annotated[bool, typer.Option("--web", help="Serve the explorer to a browser (textual-serve) instead.")] = False,
    port: Annotated[int, typer.Option("--port", help="Port of --web.")] = 8001,
    host: Annotated[str, typer.Option("--host", help="Address --web listens on.")] = "127.0.0.1",
) -> None:
    """Explore shoppers, products, recommendations, metrics and experiments: [bold]recsys tui[/] [bundle=DIR].

    Keys: 1 shoppers, 2 catalog, 3 cold-start playground, 4 metrics, 5 experiments, q quit; the footer
    shows the rest. [bold]--web[/] [--port N] serves the same app to a browser.
    """

    def work() -> None:
        from recsys_cli.tui import run

        cfg = run.load_config(overrides or [], params)
        if web:
            run.web(cfg, overrides or [], params, host, port)
        else:
            run.terminal(cfg)

    _guarded(work)


@app.command(epilog=CHOICES, name="run")
def run_all(overrides: Overrides = None, params: Params = None) -> None:
    """Run every stage in order (ingest, split, features, tune, train, eval, batch-recommend, export)."""
    from recsys_cli.stages import PIPELINE

    _stages([name for name, _ in PIPELINE], overrides, params, command="run")


@app.command(epilog=CHOICES)
def config(
    overrides: Overrides = None,
    params: Params = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Write the composition to this file (e.g. params.yaml), exactly as `dvc exp run -S` would write it.",
        ),
    ] = None,
    explain: Annotated[
        bool,
        typer.Option(
            "--explain",
            help="For every key: its value and where it came from (default, config.yaml, group, experiment, override).",
        ),
    ] = False,
) -> None:
    """Print the composed, validated config (or write it, e.g. to params.yaml for DVC)."""

    def work() -> None:
        if explain and out is not None:
            from recsys_cli.errors import ConfigError

            raise ConfigError("--explain prints a table; it cannot be combined with --out")
        cfg = _load(overrides, params)
        if explain:
            from recsys_cli import config_explain
            from recsys_cli.progress import stdout

            title = f"config from {params}" if params is not None else "config composed from conf/"
            stdout.print(config_explain.table(config_explain.explain(overrides or [], params), title))
        elif out is not None:
            from recsys_cli.atomic import write_text
            from recsys_cli.progress import status

            if params is None:  # the same bytes DVC's Hydra composition writes: switching re-runs nothing
                from recsys_cli.config_explain import composed_yaml

                text = composed_yaml(overrides or [])
            else:
                text = cfg.to_yaml()
            write_text(out, text)
            status(f"config written to {out}")
        else:
            from recsys_cli.progress import stdout

            stdout.print(Syntax(cfg.to_yaml(), "yaml", background_color="default"))

    _guarded(work)


registry_app = typer.Typer(
    help=(
        "The MLflow model registry that [bold]recsys export[/] registers bundles in "
        "(tracking.registered_model, default 'recsys'): list versions, set aliases."
    ),
    no_args_is_help=True,
    rich_markup_mode="rich",
)
app.add_typer(registry_app, name="registry")


@registry_app.command("list")
def registry_list(overrides: Overrides = None, params: Params = None) -> None:
    """Every registered version of the model, newest first, with its aliases (champion, challenger, ...)."""

    def work() -> None:
        from datetime import datetime

        from rich.table import Table

        from recsys_cli import tracking
        from recsys_cli.progress import status, stdout

        cfg = _load(overrides, params)
        rows = tracking.list_versions(cfg)
        name, uri = cfg.tracking.registered_model, tracking.store_uri(cfg)[0]
        if not rows:
            status(f"registry: no versions of {name!r} in {uri} yet; `recsys export` registers one")
            return
        table = Table(title=f"{name} in {uri}", title_justify="left")
        for column in ("version", "aliases", "model", "created", "run"):
            table.add_column(column, no_wrap=True)
        for row in rows:
            created = datetime.fromtimestamp(row["created"] / 1000).strftime("%Y-%m-%d %H:%M") if row["created"] else ""
            table.add_row(row["version"], ", ".join(row["aliases"]), row["model"], created, (row["run_id"] or "")[:12])
        stdout.print(table)
        status(f"serve one: MLFLOW_TRACKING_URI={uri} mlflow models serve -m models:/{name}/<version> "
               "--env-manager local -p 5001")

    _guarded(work)


@registry_app.command("alias")
def registry_alias(
    alias: Annotated[str, typer.Argument(help="Alias name, e.g. champion or challenger.")],
    version: Annotated[str, typer.Argument(help="Registered version number (see `recsys registry list`).")],
    overrides: Overrides = None,
    params: Params = None,
) -> None:
    """Point an alias at a version: [bold]recsys registry alias champion 3[/] (then serve models:/recsys@champion)."""

    def work() -> None:
        from recsys_cli import tracking
        from recsys_cli.errors import ConfigError
        from recsys_cli.progress import status

        if not version.isdigit() or int(version) < 1:
            raise ConfigError(f"version: {version!r} is not a version number (1, 2, ...)")
        cfg = _load(overrides, params)
        tracking.set_alias(cfg, alias, version)
        name = cfg.tracking.registered_model
        status(f"registry: {name}@{alias} -> version {version} (models:/{name}@{alias})")

    _guarded(work)


ab_app = typer.Typer(
    help=(
        "Online experiments: [bold]recsys serve ab=models[/] runs one (conf/ab/), "
        "[bold]recsys ab simulate[/] drives it with simulated shoppers, [bold]recsys ab report[/] reads the results."
    ),
    no_args_is_help=True,
    rich_markup_mode="rich",
)
app.add_typer(ab_app, name="ab")


def _name_and_overrides(args: list[str] | None) -> tuple[str | None, list[str]]:
    args = list(args or [])
    names = [a for a in args if "=" not in a]
    if len(names) > 1:
        _fail(f"give at most one experiment name, got {', '.join(names)}", 2)
    return (names[0] if names else None), [a for a in args if "=" in a]


@ab_app.command("report", epilog=CHOICES)
def ab_report(overrides: Overrides = None, params: Params = None) -> None:
    """[bold]recsys ab report [NAME][/]: per arm impressions, users, CTR, conversion, revenue with intervals,
    tests against the control, P(best), sample-ratio check -> reports/ab/NAME.json and .png."""
    name, rest = _name_and_overrides(overrides)

    def work() -> None:
        from recsys_cli.ab import report

        report.run(_load(rest, params), name)

    _guarded(work)


@ab_app.command("simulate", epilog=CHOICES)
def ab_simulate(overrides: Overrides = None, params: Params = None) -> None:
    """[bold]recsys ab simulate [NAME][/] ab.requests=20000: simulated shoppers (the synthetic shop's hidden
    tastes) ask a running server for lists, click and buy; prints lifts and whether the winner is the true best."""
    name, rest = _name_and_overrides(overrides)

    def work() -> None:
        from recsys_cli.ab import simulate

        simulate.run(_load(rest, params), name)

    _guarded(work)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"recsys {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    """recsys: build, evaluate and serve product recommendations."""


def main() -> None:
    app()


if __name__ == "__main__":
    main()
