"""The App base class: what every application, built-in or third-party, implements.

An App is a class with a ``name``, a ``description`` and the methods of the verbs it offers. The CLI
builds ``apps VERB NAME [OPTIONS]`` from it: ``run``, ``eval``, ``prepare``, ``export``, ``collect``,
``serve`` and ``bench`` call the method of the same meaning, and ``train`` gives ``training_parts`` to the
core engine. A verb whose method is not overridden answers with an honest "not available" error.

Module-level code of an App must stay light (no torch import): ``apps list`` imports every App class.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

from core.errors import NotAvailableError

# CLI verb -> App method behind it.
VERB_METHODS = {
    "run": "run",
    "eval": "evaluate",
    "prepare": "prepare",
    "export": "export",
    "collect": "collect",
    "serve": "serve",
    "bench": "benchmark",
}


class App:
    """Base class of every application.

    Class attributes:
        name: the app's name on the command line (``apps run NAME``); unique across plugins.
        description: one line for ``apps list``.
        recipe_class: the dataclass (a subclass of ``core.recipes.Recipe``) that validates this app's
            training recipes; ``None`` when the app cannot be trained.
        default_model: what ``--model`` means when not given (hub id, timm name, run directory ...).
        default_recipe: the recipe ``apps train NAME`` uses when ``--recipe`` is not given.
        order: where the app stands in ``apps list`` and among the demo's tabs (lower first, then by name).

    Set by the registry: ``plugin`` (the name of the plugin that registered the app).
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    recipe_class: ClassVar[type | None] = None
    default_model: ClassVar[str | None] = None
    default_recipe: ClassVar[str | None] = None
    order: ClassVar[int] = 100
    plugin: ClassVar[str] = ""

    # ---- command line -------------------------------------------------------------------------
    @classmethod
    def cli_options(cls, verb: str) -> list:
        """Extra click parameters (``click.Option``/``click.Argument``) for ``apps VERB NAME``.

        The values arrive as keyword arguments of the verb's method. Import click here, not torch.
        """
        return []

    @classmethod
    def offers(cls, verb: str) -> bool:
        """Whether this app implements ``verb`` (its method is overridden)."""
        if verb == "train":
            return cls.training_parts is not App.training_parts
        if verb == "demo":
            return cls.demo is not App.demo
        method = VERB_METHODS[verb]
        return getattr(cls, method) is not getattr(App, method)

    @classmethod
    def profile_settings(cls, profile) -> dict:
        """Recipe settings for training on a device ``profile`` (a ``core.profiles.Profile``: memory,
        accelerator ...), e.g. a smaller batch on an 8 GB board. Applied after the recipe file and before
        the command line's ``key=value``; keys the recipe lacks are ignored. Default: none."""
        return {}

    # ---- inference ----------------------------------------------------------------------------
    def load(self, model: str | None = None, device: str | None = None, dtype: str | None = None):
        """Load a model (hub id, timm name, local folder, run directory, ONNX file) onto ``device``
        with ``dtype`` and keep it on ``self``. Returns ``self`` so calls chain."""
        raise self._missing("load")

    def predict(self, inputs: Any) -> Any:
        """One batch of inputs in, structured (JSON-friendly) results out."""
        raise self._missing("predict")

    def run(self, **options) -> None:
        """The live loop behind ``apps run NAME``."""
        raise self._missing("run")

    # ---- training and evaluation --------------------------------------------------------------
    def training_parts(self, recipe):
        """Everything the core engine needs to train this app, for one validated recipe:
        a ``core.training.TrainingParts`` (model, datasets, collator, metrics, save hook)."""
        raise self._missing("train")

    def evaluate(self, **options) -> dict:
        """Measure quality on held-out data (``apps eval NAME``); returns the metrics as a dict."""
        raise self._missing("eval")

    def prepare(self, **options) -> None:
        """Make the app usable offline (``apps prepare NAME``): download when online, otherwise build
        the embedded default model with the app's own recipe."""
        raise self._missing("prepare")

    def export(self, **options) -> None:
        """Write a deployable artefact (merged model, ONNX ...) for ``apps export NAME``."""
        raise self._missing("export")

    def collect(self, **options) -> None:
        """Record a dataset (camera frames, demonstrations ...) for ``apps collect NAME``."""
        raise self._missing("collect")

    def serve(self, **options) -> None:
        """Serve the app over HTTP (``apps serve NAME``)."""
        raise self._missing("serve")

    def benchmark(self, **options) -> list[dict]:
        """Measure speed and memory for ``apps bench NAME``; returns rows for the core's table."""
        raise self._missing("bench")

    def demo(self):
        """Build this app's tab inside the web demo (called within a ``gradio.Blocks`` context)."""
        raise self._missing("demo")

    # ---- events -------------------------------------------------------------------------------
    def emit(self, result: dict, **context) -> None:
        """Hand one result to every plugin's ``on_result`` hook."""
        from core.plugins import get_manager

        context.setdefault("time", time.time())
        get_manager().notify_result(self, result, context)

    # ---- helpers ------------------------------------------------------------------------------
    def _missing(self, verb: str) -> NotAvailableError:
        return NotAvailableError(
            f"'{verb}' is not available for the app '{self.name}' yet.",
            hint=f"run 'apps info {self.name}' to see what it offers.",
        )

    def __repr__(self) -> str:
        return f"<App {self.name} from {self.plugin or '?'}>"
