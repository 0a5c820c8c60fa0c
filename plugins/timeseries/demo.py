"""The timeseries tab of 'apps demo': pick a shipped dataset or upload a CSV, see the forecast plotted
beside the seasonal-naive and ETS baselines."""

from __future__ import annotations

from pathlib import Path


def forecast_plot(app, dataset: str | None, csv_path: str | None, horizon: int | None, level: float):
    """(PNG path, table rows) for one request, using the same functions as 'apps run timeseries'."""
    from core import scratch_path
    from plugins.timeseries.data import default_horizon, default_season, load_input
    from plugins.timeseries.live import forecast_table
    from plugins.timeseries.model import forecaster_for, model_ref
    from plugins.timeseries.plot import plot_forecast

    dataset = None if csv_path else dataset
    ref = model_ref(None, dataset)  # some datasets have a model of their own
    forecasters = app.__dict__.setdefault("forecasters", {})  # by model folder: the pooled one loads once
    if ref.path not in forecasters:
        forecasters[ref.path] = forecaster_for(ref)
    table, spec = load_input(csv=csv_path, dataset=dataset, quiet=True)
    h = int(horizon) if horizon else (spec.horizon if spec else default_horizon(table.attrs["freq"]))
    season = spec.season if spec else default_season(table.attrs["freq"])
    results = forecast_table(forecasters[ref.path], table, h, level, season)
    for result in results:
        app.emit(result, source=csv_path or f"dataset:{dataset}")
    out = scratch_path(".png")
    plot_forecast(table, results[:4], out, title=Path(csv_path).name if csv_path else dataset, season=season)
    first = results[0]
    rows = [
        [ds[:19], f, lo, hi, sn, e]
        for ds, f, lo, hi, sn, e in zip(
            first["ds"],
            first["forecast"],
            first["lo"],
            first["hi"],
            first["seasonal_naive"],
            first["ets"],
            strict=True,
        )
    ]
    return str(out), rows


def build_tab(app) -> None:
    import gradio as gr

    from core import friendly
    from plugins.timeseries.data import DATASETS

    def handle(dataset, upload, horizon, level):
        return forecast_plot(app, dataset, upload, horizon or None, level)

    with gr.Row():
        dataset = gr.Dropdown(sorted(DATASETS), value="co2", label="shipped dataset", elem_id="ts-dataset")
        upload = gr.File(label="or a CSV (unique_id, ds, y)", file_types=[".csv"], type="filepath")
    with gr.Row():
        horizon = gr.Number(value=None, precision=0, label="horizon (empty: the dataset's own)")
        level = gr.Slider(50, 99, value=80, step=1, label="interval level (%)")
    button = gr.Button("Forecast", variant="primary", elem_id="ts-run")
    plot = gr.Image(label="forecast with baselines", type="filepath", elem_id="ts-plot")
    table = gr.Dataframe(
        headers=["ds", "PatchTST", "low", "high", "seasonal naive", "ETS"],
        label="first series",
        elem_id="ts-table",
    )
    button.click(
        friendly(app.name, handle, reset=lambda: app.__dict__.pop("forecasters", None)),
        [dataset, upload, horizon, level],
        [plot, table],
        api_name="forecast",
    )
