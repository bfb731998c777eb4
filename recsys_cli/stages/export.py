"""export: the served artifact, data/bundle/ (model, id maps, catalog, manifest)."""

from __future__ import annotations

from recsys_cli.bundle import write_bundle
from recsys_cli.config import Config
from recsys_cli.progress import status
from recsys_cli.stages.inputs import catalog, ids, model_dir, need, read_json


def run(cfg: Config) -> None:
    users, items = ids(cfg)
    src = need(model_dir(cfg) / "model", f"train model={cfg.model.name}").parent
    train_info = read_json(src / "train_info.json", "train")
    manifest = write_bundle(
        cfg.paths.bundle,
        model_dir=src,
        ids_file=cfg.paths.processed / "ids.npz",
        catalog=catalog(cfg, items),
        extra_files={
            "config.yaml": src / "config.yaml",
            "train_info.json": src / "train_info.json",
            "metrics.json": cfg.paths.reports_dir / "metrics.json",
        },
        info={"model": cfg.model.name, "params": train_info["params"], "n_users": len(users), "n_items": len(items)},
    )
    status(f"export: {len(manifest['files'])} files with sha256 -> {cfg.paths.bundle}")
