"""Every registered model has a config file that lists exactly its params, and validates."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from recsys_cli.models import REGISTRY, model_class
from recsys_cli.schema import from_dict

CONF = Path(__file__).resolve().parents[2] / "conf" / "model"


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_conf_file_lists_exactly_the_params(name: str) -> None:
    path = CONF / f"{name}.yaml"
    assert path.is_file(), f"conf/model/{name}.yaml is missing"
    conf = yaml.safe_load(path.read_text())
    assert conf.pop("name") == name
    cls = model_class(name)
    assert set(conf) == set(cls.Params.__dataclass_fields__)
    from_dict(cls.Params, conf, where="model")
    assert cls.name == name
