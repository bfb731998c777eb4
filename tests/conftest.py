"""Session fixtures shared across test folders: one tiny exported shop and one server over it.

(tests/serve and tests/bad_inputs both use them; each is built once per session.)
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.serve.conftest import BASE, Server


@pytest.fixture(scope="session")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny synthetic shop, trained (ALS) and exported: the bundle every serving test reads."""
    from recsys_cli import config
    from recsys_cli.stages import export, features, ingest, split, train

    root = tmp_path_factory.mktemp("serve-shop")
    cfg = config.load([*BASE, f"paths.root={root}"])
    for stage in (ingest, split, features, train, export):
        stage.run(cfg)
    return root


@pytest.fixture(scope="session")
def server(shop: Path) -> Iterator[Server]:
    srv = Server(shop)
    yield srv
    srv.stop()
