"""The timeseries app. Module level stays light (no torch): 'apps list' imports it."""

from core import App


class TimeseriesApp(App):
    name = "timeseries"
    description = "Transformer (PatchTST) forecasting for energy, markets and sensors"
