"""``recsys tui``: the explorer app. It owns what every screen reads and loads it in workers.

Two loads, one after the other, both in threads so the UI never waits:

- the tables (shoppers, products, history arrays) straight from the bundle's
  files: the first screen fills from them in well under two seconds;
- the :class:`RecommenderService` (the same in-process service as ``recsys
  serve``): recommendations, similar products and the cold-start playground
  appear when it is ready.

Screens subscribe to :attr:`tables_ready` / :attr:`service_ready` (Textual
signals) and read ``app.tables`` / ``app.service``. A failed load is a
notification that names the command that makes the missing piece, never a
traceback. The app holds no model code.
"""

from __future__ import annotations

import time
from pathlib import Path

from textual import work
from textual.app import App
from textual.binding import Binding
from textual.signal import Signal
from textual.widgets import Input

from recsys_cli.config import Config
from recsys_cli.errors import RecsysError
from recsys_cli.tui.keys import NAV
from recsys_cli.tui.screens.catalog import CatalogScreen
from recsys_cli.tui.screens.experiments import ExperimentsScreen
from recsys_cli.tui.screens.metrics import MetricsScreen
from recsys_cli.tui.screens.playground import PlaygroundScreen
from recsys_cli.tui.screens.shoppers import ShoppersScreen
from recsys_cli.tui.tables import Tables


def one_line(exc: BaseException) -> str:
    """An exception as the one line a user reads."""
    text = str(exc).strip().splitlines()
    if isinstance(exc, RecsysError) and text:
        return text[0]
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


class ExplorerApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "recsys explorer"
    MODES = {
        "shoppers": ShoppersScreen,
        "catalog": CatalogScreen,
        "playground": PlaygroundScreen,
        "metrics": MetricsScreen,
        "experiments": ExperimentsScreen,
    }
    BINDINGS = [*NAV, Binding("q", "quit", "Quit")]
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]

    def __init__(self, cfg: Config, *, cursor_blink: bool = True) -> None:
        super().__init__()
        self.cfg = cfg
        self.cursor_blink = cursor_blink
        self.bundle_path = Path(cfg.bundle_path)
        self.reports_dir = Path(cfg.paths.reports_dir)
        self.tables: Tables | None = None
        self.service = None  # RecommenderService once loaded
        self.second = None  # a second model's service (``m`` on the shopper screen)
        self.load_error: str | None = None
        self.tables_ready: Signal[Tables] = Signal(self, "tables-ready")
        self.service_ready: Signal[object] = Signal(self, "service-ready")
        self.second_ready: Signal[object] = Signal(self, "second-ready")
        self.started = time.perf_counter()
        self.timings: dict[str, float] = {}

    def on_mount(self) -> None:
        if not (self.bundle_path / "manifest.json").is_file():
            from recsys_cli.bundle import BundleError

            self._failed(BundleError(f"{self.bundle_path}: no bundle there: run `recsys run` "
                                     "(or `recsys export` after `recsys train`)"))
            self.switch_mode("shoppers")
            return
        self.switch_mode("shoppers")
        self.load_tables()  # then the service: loading both at once slows the first screen (one GIL)

    # ------------------------------------------------------------ loading

    @work(thread=True, group="load", exit_on_error=False)
    def load_tables(self) -> None:
        try:
            tables = Tables.read(self.bundle_path, self.cfg.eval.hot_quantile)
        except Exception as exc:  # noqa: BLE001 - shown as one line, never a traceback
            self.call_from_thread(self._failed, exc)
        else:
            self.call_from_thread(self._tables_loaded, tables)
        self.call_from_thread(self.load_service)  # checks every checksum, even when the tables failed

    def _tables_loaded(self, tables: Tables) -> None:
        self.tables = tables
        self.timings["tables"] = time.perf_counter() - self.started
        self.tables_ready.publish(tables)

    @work(thread=True, group="load", exit_on_error=False)
    def load_service(self) -> None:
        from recsys_cli.service import RecommenderService

        try:
            service = RecommenderService.load(self.bundle_path, self.cfg.serve)
        except Exception as exc:  # noqa: BLE001
            self.call_from_thread(self._failed, exc)
            return
        from recsys_cli.service.heap import settle

        settle()  # no full-collection pauses over the loaded tables while moving between shoppers
        self.call_from_thread(self._service_loaded, service)

    def _service_loaded(self, service: object) -> None:
        self.service = service
        self.timings["service"] = time.perf_counter() - self.started
        fit = self.service.bundle.manifest.get("fit", {})  # type: ignore[attr-defined]
        cutoff = str(fit.get("cutoff") or "")[:10]
        self.sub_title = f"{self.service.model_name} · data to {cutoff}" if cutoff else self.service.model_name  # type: ignore[attr-defined]
        self.service_ready.publish(service)

    def _failed(self, exc: BaseException) -> None:
        message = one_line(exc)
        if message == self.load_error:  # both loads fail alike on a missing bundle: say it once
            return
        self.load_error = message
        self.notify(message, title="cannot load the bundle", severity="error", timeout=30)

    @work(thread=True, group="second", exclusive=True, exit_on_error=False)
    def load_second(self, name: str | None) -> None:
        """Serve the trained model ``data/models/<name>`` next to the bundle's (None: none)."""
        if name is None:
            self.call_from_thread(self._second_loaded, None)
            return
        from recsys_cli.service.models import service_for_model

        try:
            if self.service is None:
                raise RecsysError("the bundle is still loading; pick the model again in a moment")
            second = service_for_model(self.service, self.cfg.paths.models / name, self.cfg.paths.processed)
        except Exception as exc:  # noqa: BLE001
            self.call_from_thread(self.notify, one_line(exc), title=f"cannot load {name}", severity="error",
                                  timeout=15)
            return
        from recsys_cli.service.heap import settle

        settle()
        self.call_from_thread(self._second_loaded, second)

    def _second_loaded(self, second: object) -> None:
        self.second = second
        self.second_ready.publish(second)

    # ------------------------------------------------------------ helpers for screens

    def quiet(self, *inputs: Input) -> None:
        """Turn the blinking cursor off where asked (deterministic screenshots)."""
        if not self.cursor_blink:
            for widget in inputs:
                widget.cursor_blink = False
