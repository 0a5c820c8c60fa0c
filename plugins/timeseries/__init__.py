"""Built-in plugin: Transformer forecasting."""

from core import hookimpl


@hookimpl
def register_apps(register):
    from plugins.timeseries.app import TimeseriesApp

    register(TimeseriesApp)
