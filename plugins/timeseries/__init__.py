"""Built-in plugin: Transformer (PatchTST) forecasting. Hookimpls only; nothing heavy is imported here."""

from pathlib import Path

from core import hookimpl


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
    from plugins.timeseries.recipe import RECIPES

    folder = Path(__file__).parent / "recipes"
    for name, description in RECIPES.items():
        register(app="timeseries", name=name, path=folder / f"{name}.yaml", description=description)
