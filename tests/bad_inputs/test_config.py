"""Bad configs: unknown keys, wrong types, out-of-range values, conflicting options, impossible split dates.

Each is a real `recsys` subprocess. A config error exits 2 with one line
naming the config key; the stage it would have run writes nothing. The split
cases run `recsys split` on a small ingested shop (made once, copied into each
case's root) and leave its earlier ``data/processed`` alone.
"""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest

from recsys_cli import config
from recsys_cli.stages import ingest
from tests.bad_inputs.cli import Case, Outcome, check, collected, run_all

INTERIM: list[Path] = []  # the ingested shop, set by the fixture before the cases run
PROCESSED = "data/processed/train.parquet"


def interim(path: Path) -> None:
    shutil.copytree(INTERIM[0], path)


def stage(command: str, *overrides: str) -> list[str]:
    return [command, "paths.root={root}", "tracking=none", *overrides]


def split_case(name: str, overrides: list[str], names: list[str], code: int = 2) -> Case:
    return Case(name, stage("split", *overrides), names, code=code, files={"data/interim": interim},
                previous=PROCESSED)


def params_file(text: str):  # noqa: ANN201
    return {"params.yaml": text.encode()}


_HYDRA = threading.Lock()  # the cases are prepared on threads; Hydra's compose is global state


def composed_with(extra: str):  # noqa: ANN201
    """A file-maker: the composed default config (what `recsys config --out` writes) plus ``extra``."""

    def make(path: Path) -> None:
        with _HYDRA:
            text = config.load(["tracking=none"]).to_yaml()
        path.write_text(text + extra)

    return make


CASES = [
    Case("unknown-top-level-key", stage("ingest", "colour=red"), ["colour"], code=2),
    Case("unknown-nested-key", stage("ingest", "split.fraction=0.2"), ["split.fraction: unknown key",
                                                                       "valid_frac"], code=2),
    Case("unknown-group-choice", stage("ingest", "model=nosuch"), ["model: unknown choice 'nosuch'", "als"], code=2),
    Case("wrong-type-float", stage("ingest", "split.valid_frac=abc"), ["split.valid_frac", "'abc'"], code=2),
    Case("wrong-type-int", stage("ingest", "serve.port=eighty"), ["serve.port", "'eighty'"], code=2),
    Case("wrong-type-list", stage("ingest", "eval.k=ten"), ["eval.k"], code=2),
    Case("out-of-range-fraction", stage("ingest", "split.test_frac=1.5"), ["split.test_frac", "1.5"], code=2),
    Case("out-of-range-port", stage("ingest", "serve.port=70000"), ["serve.port", "70000"], code=2),
    Case("negative-k", stage("ingest", "recommend.k=-1"), ["recommend.k", "-1"], code=2),
    Case("not-a-choice", stage("ingest", "data=events", "data.encoding=ebcdic"), ["data.encoding", "'ebcdic'"],
         code=2),
    Case("unknown-model-param", stage("ingest", "model.colour=red"), ["model.colour"], code=2),
    Case("model-param-wrong-type", stage("ingest", "model.factors=many"), ["model.factors", "'many'"], code=2),
    Case("conflicting-default-and-max-k", stage("ingest", "serve.default_k=200"),
         ["serve.default_k", "200", "serve.max_k"], code=2),
    Case("unknown-event-store", stage("ingest", "serve.events=mysql://db"), ["serve.events", "mysql://db"], code=2),
    Case("metric-without-cutoff", stage("ingest", "tune.metric=ndcg"), ["tune.metric", "'ndcg'"], code=2),
    Case("unknown-file-format", stage("ingest", "data=events", "data.path={root}/e.csv", "data.format=xml"),
         ["data.format", "'xml'"], code=2, files={"e.csv": b"user_id,item_id,timestamp,event\nu1,p1,1,view\n"}),
    Case("override-syntax-error", stage("ingest", "split.valid_frac=[0.1"), ["split.valid_frac", "cannot parse"],
         code=2),
    Case("params-file-missing", ["ingest", "--params", "{root}/nowhere.yaml"], ["nowhere.yaml", "not found"], code=2),
    Case("params-file-not-yaml", ["ingest", "--params", "{root}/params.yaml"], ["params.yaml", "not valid YAML",
                                                                              "line 2"], code=2,
         files=params_file("data: [unclosed\n  - x: {\n")),
    Case("params-file-unknown-key", ["ingest", "--params", "{root}/params.yaml"], ["colour"], code=2,
         files={"params.yaml": composed_with("colour: red\n")}),
    Case("params-file-not-a-mapping", ["ingest", "--params", "{root}/params.yaml"], ["params.yaml", "mapping"],
         code=2, files=params_file("- just\n- a list\n")),
    Case("paths-root-is-a-file", ["ingest", "paths.root={root}/afile", "tracking=none", "data=events",
                                  "data.path={root}/e.csv"], ["afile", "Not a directory"], quiet=False,
         files={"afile": b"a file, not a folder\n", "e.csv": b"user_id,item_id,timestamp,event\nu1,p1,1,view\n"}),
    split_case("split-fractions-sum-to-one", ["split.valid_frac=0.5", "split.test_frac=0.5"],
               ["split.valid_frac", "split.test_frac"]),
    split_case("split-valid-after-test", ["split.valid_start=2024-06-01", "split.test_start=2024-01-01"],
               ["split.valid_start", "split.test_start"]),
    split_case("split-date-unparsable", ["split.test_start=someday"], ["split.test_start", "'someday'"]),
    split_case("split-date-after-the-data", ["split.valid_start=2990-01-01", "split.test_start=2999-01-01"],
               ["split.test_start", "2999-01-01", "after the last event"]),
    split_case("split-date-before-the-data", ["split.valid_start=1990-01-01", "split.test_start=1991-01-01"],
               ["split.valid_start", "1990-01-01", "before the first event"]),
]


@pytest.fixture(scope="module")
def outcomes(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    chosen = collected(request, CASES)
    if any("data/interim" in c.files for c in chosen):
        root = tmp_path_factory.mktemp("shop")
        ingest.run(config.load(["experiment=tiny", "tracking=none", f"paths.root={root}"]))
        INTERIM[:] = [root / "data" / "interim"]
    return run_all(chosen, tmp_path_factory.mktemp("bad-config"))


@pytest.mark.parametrize("case", [c.param() for c in CASES])
def test_a_bad_config_is_one_line_naming_the_key_and_nothing_written(case: Case,
                                                                     outcomes: dict[str, Outcome]) -> None:
    check(case, outcomes[case.id])
