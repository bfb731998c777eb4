"""``recsys config --explain``: every leaf of the config, its value, and where it came from.

Sources, lowest to highest precedence (the last one that sets a key wins):

- ``default``: a dataclass default (``recsys_cli/config.py`` or the model's
  ``Params``), set in no YAML file;
- ``config.yaml``: the primary config (its ``_self_`` is first in its defaults);
- ``group <group>/<option>.yaml``: a group file, e.g. ``model/als.yaml`` or
  ``tune/als.yaml`` (composed into ``tune.space``);
- ``experiment <name>.yaml``: the experiment file;
- ``override key=value``: a command-line value override.

Hydra itself says which files go in and in which order (its defaults list,
the same one ``compose`` merges); each file is then read on its own to learn
which keys it sets. With ``--params`` the file is the only source besides
dataclass defaults and plain overrides.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from recsys_cli import config as config_module
from recsys_cli.errors import ConfigError
from recsys_cli.schema import to_dict

Path_ = tuple[str, ...]

DEFAULT = "default"


@dataclass(frozen=True)
class Entry:
    key: str  # dotted path
    value: Any  # the validated value the stages see
    source: str  # default | config.yaml | group g/o.yaml | experiment e.yaml | override k=v | <params file>
    note: str = ""  # how a group option was chosen (command line, experiment), when not by config.yaml


@dataclass(frozen=True)
class _Source:
    label: str
    keys: frozenset[Path_]  # leaf paths it sets (a list or scalar value is a leaf)
    note: str = ""
    replaces: Path_ | None = None  # a mapping override replaces this subtree: earlier sources no longer set it


def explain(
    overrides: list[str] | None = None,
    params_file: str | Path | None = None,
    directory: Path | None = None,
) -> list[Entry]:
    """Every leaf of the validated config (dataclass defaults filled in) with its source."""
    overrides = list(overrides or [])
    cfg = _validated(overrides, params_file, directory)
    if params_file is not None:
        sources = _params_sources(Path(params_file), overrides)
    else:
        sources = _compose_sources(overrides, directory or config_module.conf_dir())
    entries = []
    for path, value in _leaves(_full_mapping(cfg)).items():
        source = _source_of(sources, path)
        entries.append(
            Entry(".".join(path), value, source.label if source else DEFAULT, source.note if source else "")
        )
    return entries


def _validated(overrides: list[str], params_file: str | Path | None, directory: Path | None) -> Any:
    from recsys_cli import models

    if params_file is None:
        cfg = config_module.from_mapping(config_module.compose(overrides, directory))
    else:
        cfg = config_module.load(overrides, params_file)
    models.check_config(cfg)
    return cfg


def _full_mapping(cfg: Any) -> dict[str, Any]:
    """``cfg.to_dict()`` with the model's params completed by its ``Params`` defaults."""
    from recsys_cli import models

    out = cfg.to_dict()
    out["model"] = {"name": cfg.model.name, **to_dict(models.params_of(cfg.model))}
    return out


def _leaves(node: Any, prefix: Path_ = ()) -> dict[Path_, Any]:
    if isinstance(node, dict) and node:
        out: dict[Path_, Any] = {}
        for key, value in node.items():
            out.update(_leaves(value, (*prefix, str(key))))
        return out
    return {prefix: node}


def _plain(value: Any) -> Any:
    """A parsed Hydra override value as plain dicts and lists."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _source_of(sources: list[_Source], path: Path_) -> _Source | None:
    """The last source that sets ``path``; none (a default) once a replacing override cleared it."""
    for source in reversed(sources):
        if _sets(source.keys, path):
            return source
        if source.replaces is not None and path[: len(source.replaces)] == source.replaces:
            return None
    return None


def _sets(keys: frozenset[Path_], path: Path_) -> bool:
    """A source sets ``path`` when it sets it, or sets one of its parents as a whole."""
    return any(path[:i] in keys for i in range(1, len(path) + 1))


def _compose_sources(overrides: list[str], directory: Path) -> list[_Source]:
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.override_parser.types import OverrideType
    from hydra.errors import HydraException
    from hydra.types import RunMode
    from omegaconf import OmegaConf

    try:
        with initialize_config_dir(config_dir=str(directory), version_base="1.3", job_name="recsys"):
            loader = GlobalHydra.instance().config_loader()
            defaults = loader.compute_defaults_list("config", overrides, RunMode.RUN)  # type: ignore[attr-defined]
            sources = []
            for item in defaults.defaults:
                if item.config_path is None or item.package == "hydra" or item.package.startswith("hydra."):
                    continue
                loaded = loader.repository.load_config(item.config_path)  # type: ignore[attr-defined]
                if loaded is None:
                    continue
                content = OmegaConf.to_container(loaded.config, resolve=False) or {}
                content.pop("defaults", None)
                prefix = tuple(item.package.split(".")) if item.package else ()
                label, note = _label(item.config_path, defaults.overrides)
                keys = frozenset(_leaves(content, prefix)) if content else frozenset()
                sources.append(_Source(label, keys, note))
            for override in defaults.overrides.config_overrides:
                if override.type == OverrideType.DEL:
                    continue
                value, where = _plain(override.value()), tuple(override.key_or_group.split("."))
                keys = frozenset(_leaves(value, where))
                # a plain key={...} replaces the mapping (config.compose), the + forms merge as Hydra does
                replaces = where if override.type == OverrideType.CHANGE and isinstance(value, dict) else None
                sources.append(_Source(f"override {override.input_line}", keys, replaces=replaces))
            return sources
    except HydraException as exc:  # compose() above has already named bad keys; this is a safety net
        raise ConfigError(f"config: {str(exc).strip().splitlines()[0]}") from None


def _label(config_path: str, overrides: Any) -> tuple[str, str]:
    """The source label of one file of the defaults list, and how its option was chosen."""
    if config_path == "config":
        return "config.yaml", ""
    group, _, option = config_path.rpartition("/")
    if group == "experiment":
        return f"experiment {option}.yaml", ""
    note = ""
    meta = overrides.override_metadata.get(group)
    if meta is not None and overrides.override_choices.get(group) == option:
        if meta.external_override:
            note = f"chosen by override {group}={option}"
        elif meta.containing_config_path:
            note = f"chosen by {meta.containing_config_path}.yaml"
    return f"group {config_path}.yaml", note


def _params_sources(path: Path, overrides: list[str]) -> list[_Source]:
    raw = yaml.safe_load(path.read_text()) or {}
    raw.pop("hydra", None)
    raw.pop("experiment", None)
    sources = [_Source(path.name, frozenset(_leaves(raw)) if raw else frozenset())]
    for item in overrides:
        key, _, value = item.partition("=")
        sources.append(_Source(f"override {item}", frozenset(_leaves(yaml.safe_load(value), tuple(key.split("."))))))
    return sources


def composed_yaml(overrides: list[str] | None = None, directory: Path | None = None) -> str:
    """``conf/`` + overrides as the exact text ``dvc exp run -S`` writes to params.yaml.

    DVC's Hydra composition (``hydra.enabled`` in .dvc/config) dumps
    ``OmegaConf.to_yaml`` of the resolved composition; writing the same text
    here means switching between ``recsys config --out params.yaml`` and
    ``dvc exp run -S`` changes no param value, so DVC re-runs nothing. Keys no
    YAML sets are absent; ``load`` fills them from the dataclass defaults.
    """
    from omegaconf import OmegaConf

    return OmegaConf.to_yaml(OmegaConf.create(config_module.compose(overrides, directory)))


def format_value(value: Any) -> str:
    """A value as one line of YAML (flow style): null, true, 0.05, [5, 10, 20], {a: 1}."""
    text = yaml.safe_dump(value, default_flow_style=True, sort_keys=False, width=10_000).strip()
    return text.removesuffix("\n...").removesuffix("...").strip()


def table(entries: list[Entry], title: str = "composed config") -> Any:
    """A Rich table: key, value, source (with how a group option was chosen)."""
    from rich.table import Table
    from rich.text import Text

    out = Table(title=title, title_justify="left")
    out.add_column("key", no_wrap=True)
    out.add_column("value", overflow="fold")
    out.add_column("source")
    styles = {DEFAULT: "dim", "override": "bold yellow", "experiment": "magenta", "group": "cyan"}
    for entry in entries:
        source = Text(entry.source, style=styles.get(entry.source.split(" ", 1)[0], "green"))
        if entry.note:
            source.append(f" ({entry.note})", style="dim")
        out.add_row(Text(entry.key), Text(format_value(entry.value)), source)
    return out
