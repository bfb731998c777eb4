"""``m``: pick a trained model (``data/models/<name>``) to compare side by side, or none."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from recsys_cli.service.models import trained_models

NONE = "\x00none"


class ModelPicker(ModalScreen[str | None]):
    """Dismisses with a model name, None for no second model, or "" when cancelled."""

    CSS_PATH = "model_picker.tcss"
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def compose(self) -> ComposeResult:
        models_dir = self.app.cfg.paths.models
        names = trained_models(models_dir)
        with Vertical(id="picker"):
            yield Static("[b]Compare with a second model[/b]", id="picker-title")
            options = [Option("no second model", id=NONE), *(Option(n, id=n) for n in names)]
            yield OptionList(*options, id="models")
            hint = (f"trained models in {models_dir}" if names else
                    f"no trained model in {models_dir}: run `recsys train model=NAME` (e.g. model=popularity)")
            yield Static(hint, id="picker-hint")

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    @on(OptionList.OptionSelected)
    def chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(None if event.option.id == NONE else event.option.id)

    def action_cancel(self) -> None:
        self.dismiss("")
