"""No pickle is ever loaded: a scan of every Python file of the project for the ways one gets in.

Flagged (by the syntax tree, not by text): importing pickle, cPickle, _pickle,
dill, cloudpickle, joblib, shelve or marshal; ``allow_pickle=`` anything but a
literal False (``np.load`` refuses pickles by default); ``torch.load`` without
``weights_only=True``; any ``read_pickle``; ``yaml.load`` without a safe loader
and ``yaml.unsafe_load`` / ``full_load`` (YAML tags can build objects too).
The scanner itself is checked first on snippets that do each of these.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCANNED = ("recsys_cli", "bench", "tests")
UNSAFE_MODULES = {"pickle", "cPickle", "_pickle", "dill", "cloudpickle", "joblib", "shelve", "marshal"}
SAFE_YAML_LOADERS = {"SafeLoader", "CSafeLoader", "BaseLoader", "CBaseLoader"}


def _is(node: ast.AST, value: object) -> bool:
    return isinstance(node, ast.Constant) and node.value is value


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def findings(source: str, name: str = "<snippet>") -> list[str]:
    """Every way a pickle (or an object-building YAML) could be loaded in ``source``: 'file:line: what'."""
    tree = ast.parse(source, filename=name)
    aliases: dict[str, str] = {}  # local name -> the module or module.attr it stands for
    out: list[str] = []

    def flag(node: ast.AST, what: str) -> None:
        out.append(f"{name}:{getattr(node, 'lineno', 0)}: {what}")

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                aliases[alias.asname or alias.name.split(".")[0]] = alias.name if alias.asname else alias.name.split(".")[0]
                if alias.name.split(".")[0] in UNSAFE_MODULES:
                    flag(node, f"imports {alias.name}")
        elif isinstance(node, ast.ImportFrom) and node.module:
            root = node.module.split(".")[0]
            for alias in node.names:
                aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
                if root in UNSAFE_MODULES or alias.name in UNSAFE_MODULES or alias.name == "read_pickle":
                    flag(node, f"imports {alias.name} from {node.module}")
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = _dotted(node.func)
        head, _, rest = func.partition(".")
        full = f"{aliases.get(head, head)}.{rest}" if rest else aliases.get(head, head)
        keywords = {k.arg: k.value for k in node.keywords if k.arg}
        if "allow_pickle" in keywords and not _is(keywords["allow_pickle"], False):
            flag(node, f"{func}(allow_pickle=...) not False")
        if full in ("torch.load",) and not _is(keywords.get("weights_only"), True):
            flag(node, f"{func} without weights_only=True")
        if func.endswith("read_pickle") or full.endswith(".read_pickle"):
            flag(node, f"{func} reads a pickle")
        if full in ("yaml.unsafe_load", "yaml.full_load", "yaml.unsafe_load_all", "yaml.full_load_all"):
            flag(node, f"{func} builds arbitrary objects")
        if full in ("yaml.load", "yaml.load_all"):
            loader = keywords.get("Loader", node.args[1] if len(node.args) > 1 else None)
            if loader is None or _dotted(loader).rsplit(".", 1)[-1] not in SAFE_YAML_LOADERS:
                flag(node, f"{func} without a safe Loader")
    return out


@pytest.mark.parametrize("snippet", [
    "import pickle\npickle.load(open('m.pkl', 'rb'))",
    "import pickle as p\np.loads(b'')",
    "from pickle import loads\nloads(b'')",
    "import dill",
    "import cloudpickle",
    "import joblib\njoblib.load('m.joblib')",
    "from sklearn.externals import joblib",
    "import shelve\nshelve.open('db')",
    "import marshal\nmarshal.loads(b'')",
    "import numpy as np\nnp.load('a.npy', allow_pickle=True)",
    "import numpy\nnumpy.load('a.npz', allow_pickle=flag)",
    "import torch\ntorch.load('w.pt')",
    "import torch\ntorch.load('w.pt', weights_only=False)",
    "import torch as th\nth.load('w.pt', map_location='cpu')",
    "from torch import load\nload('w.pt')",
    "import pandas as pd\npd.read_pickle('f.pkl')",
    "from pandas import read_pickle",
    "import yaml\nyaml.load(text)",
    "import yaml\nyaml.load(text, Loader=yaml.Loader)",
    "import yaml\nyaml.unsafe_load(text)",
    "import yaml\nyaml.full_load(text)",
])
def test_the_scanner_flags_every_way_a_pickle_gets_in(snippet: str) -> None:
    assert findings(snippet), snippet


@pytest.mark.parametrize("snippet", [
    "import numpy as np\nnp.load('a.npz', allow_pickle=False)",
    "import numpy as np\nnp.load('a.npz')",
    "import torch\ntorch.load('w.pt', weights_only=True)",
    "import yaml\nyaml.safe_load(text)",
    "import yaml\nyaml.load(text, Loader=yaml.SafeLoader)",
    "from safetensors.numpy import load_file\nload_file('w.safetensors')",
    "import json\njson.load(open('m.json'))",
])
def test_the_scanner_lets_safe_loading_through(snippet: str) -> None:
    assert findings(snippet) == [], snippet


def test_no_file_of_the_project_loads_a_pickle() -> None:
    files = [p for d in SCANNED for p in sorted((ROOT / d).rglob("*.py")) if ".venv" not in p.parts]
    assert len(files) > 100  # the scan really ran over the code base
    found = [f for p in files for f in findings(p.read_text(encoding="utf-8"), str(p.relative_to(ROOT)))]
    assert found == [], "\n".join(found)
