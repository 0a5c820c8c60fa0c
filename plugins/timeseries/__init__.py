"""Built-in plugin: Transformer (PatchTST) forecasting. Thin: hookimpls only, nothing heavy imported."""

from pathlib import Path

from core import hookimpl

RECIPES = {
    "patchtst-pretrain": "PatchTST pre-trained over the pool of shipped series (the offline default)",
    "patchtst-finetune": "adapt the pooled PatchTST to one target series (dataset=NAME or a CSV path)",
    "patchtst-series": "a small PatchTST trained on one short series alone (yearly/monthly; dataset=NAME)",
}


@hookimpl
def register_apps(register):
    from plugins.timeseries.app import TimeseriesApp

    register(TimeseriesApp)


@hookimpl
def register_datasets(register):
    from functools import partial

    from plugins.timeseries.data import DATASETS, load_dataset

    # loader() -> a regular long table (pandas: unique_id, ds, y); attrs["freq"] holds its frequency.
    for spec in DATASETS.values():
        register(
            app="timeseries",
            name=spec.name,
            loader=partial(load_dataset, spec.name),
            description=spec.summary(),
        )


@hookimpl
def register_recipes(register):
    folder = Path(__file__).parent / "recipes"
    for name, description in RECIPES.items():
        register(app="timeseries", name=name, path=folder / f"{name}.yaml", description=description)
